#!/usr/bin/env bash
# cfssl doing what `sign-csr --ca CA --profile server --csr DIR` does: every
# DIR/*.csr signed by CA.crt/CA.key, one `cfssl sign | cfssljson -bare` per CSR
# (DIR/<name>.pem), as a shell loop over cfssl does it. The config gives the
# server profile's usages; cfssl copies the CSR's names (its "hosts") and sets
# CA:FALSE, SKI and AKI itself. Debian's golang-cfssl. Usage: sign-csrs.sh CA DIR.
set -euo pipefail
ca=$1 dir=$2
config=$(mktemp)
trap 'rm -f "$config"' EXIT
printf '%s\n' '{"signing": {"default": {"expiry": "8760h",
  "usages": ["digital signature", "key encipherment", "server auth"]}}}' >"$config"
for csr in "$dir"/*.csr; do
  cfssl sign -ca "$ca.crt" -ca-key "$ca.key" -config "$config" "$csr" 2>/dev/null |
    cfssljson -bare "${csr%.csr}"
done
