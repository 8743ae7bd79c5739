#!/usr/bin/env bash
# The openssl CLI doing what `sign-csr --ca CA --profile server --csr DIR` does:
# every DIR/*.csr signed by CA.crt/CA.key as DIR/<name>.crt, one `openssl x509
# -req` per CSR, with an extfile giving sign-csr's server profile (CA:FALSE,
# keyUsage digitalSignature, + keyEncipherment for RSA keys, serverAuth, SKI,
# AKI) and the CSR's names copied (-copy_extensions copy: only what the extfile
# does not set). Usage: sign-csrs.sh CA DIR (CSRs named ec-*.csr or rsa-*.csr).
set -euo pipefail
ca=$1 dir=$2
ext=$(mktemp -d)
trap 'rm -rf "$ext"' EXIT
profile='basicConstraints=critical,CA:FALSE
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid'
printf '%s\nkeyUsage=critical,digitalSignature\n' "$profile" >"$ext/ec"
printf '%s\nkeyUsage=critical,digitalSignature,keyEncipherment\n' "$profile" >"$ext/rsa"
for csr in "$dir"/*.csr; do
  name=$(basename "$csr" .csr)
  openssl x509 -req -in "$csr" -CA "$ca.crt" -CAkey "$ca.key" -days 365 -sha256 \
    -extfile "$ext/${name%%-*}" -copy_extensions copy -out "$dir/$name.crt" 2>/dev/null
done
