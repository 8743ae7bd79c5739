#!/usr/bin/env bash
# The work of rotate-default-ca done with the openssl CLI, step for step as
# rotate-default-ca-certs.sh does it: per CA a P-256 root, self-signed and
# cross-signed by the old root, a P-256 intermediate, the bundle and key file;
# then an RSA-2048 service key and the token hash. Usage: rotate-default-ca.sh DATA_DIR
set -euo pipefail
umask 077
DATA_DIR=$1
TS=$(date +%s)
OUT="$DATA_DIR/server/rotate-ca/tls"
mkdir -p "$OUT/etcd" "$OUT/.ca/certs"
cd "$OUT"
touch .ca/index
openssl rand -hex 8 >.ca/serial
cat >.ca/config <<'CONF'
[ca]
default_ca = ca_default
[ca_default]
dir = ./.ca
database = $dir/index
serial = $dir/serial
new_certs_dir = $dir/certs
default_md = sha256
policy = policy_anything
unique_subject = no
[policy_anything]
commonName = supplied
[req]
distinguished_name = req_distinguished_name
[req_distinguished_name]
[v3_ca]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
basicConstraints = critical, CA:true
keyUsage = critical, digitalSignature, keyCertSign
CONF
for TYPE in client server request-header etcd/peer etcd/server; do
  LIVE="$DATA_DIR/server/tls/$TYPE-ca"
  if [ "$(grep -cF 'END CERTIFICATE' "$LIVE.crt")" -gt 1 ]; then
    awk 'BEGIN { RS = "-----END CERTIFICATE-----\n" } NR==2 { print $0 RS }' "$LIVE.crt" >"$TYPE-root-old.pem"
    awk 'BEGIN { RS = "-----END EC PRIVATE KEY-----\n" } NR==2 { print $0 RS }' "$LIVE.key" >"$TYPE-root-old.key"
  else
    cat "$LIVE.crt" >"$TYPE-root-old.pem"
    cat "$LIVE.key" >"$TYPE-root-old.key"
  fi
  NAME="k3s-$(echo "$TYPE" | tr / -)"
  openssl ecparam -name prime256v1 -genkey -noout -out "$TYPE-root.key"
  openssl req -x509 -new -nodes -sha256 -days 7300 -subj "/CN=$NAME-root@$TS" \
    -key "$TYPE-root.key" -out "$TYPE-root-ssigned.pem" -config .ca/config -extensions v3_ca
  openssl req -new -nodes -subj "/CN=$NAME-root@$TS" -key "$TYPE-root.key" |
    openssl ca -batch -notext -days 7300 -in /dev/stdin -out "$TYPE-root-xsigned.pem" \
      -keyfile "$TYPE-root-old.key" -cert "$TYPE-root-old.pem" -config .ca/config -extensions v3_ca 2>/dev/null
  openssl ecparam -name prime256v1 -genkey -noout -out "$TYPE-ca.key"
  openssl req -new -nodes -subj "/CN=$NAME-ca@$TS" -key "$TYPE-ca.key" |
    openssl ca -batch -notext -days 7300 -in /dev/stdin -out "$TYPE-ca.pem" \
      -keyfile "$TYPE-root.key" -cert "$TYPE-root-ssigned.pem" -config .ca/config -extensions v3_ca 2>/dev/null
  cat "$TYPE-ca.pem" "$TYPE-root-ssigned.pem" "$TYPE-root-xsigned.pem" "$TYPE-root-old.pem" >"$TYPE-ca.crt"
  cat "$TYPE-root.key" >>"$TYPE-ca.key"
done
openssl genrsa -traditional -out service.key 2048 2>/dev/null
cat "$DATA_DIR/server/tls/service.key" >>service.key
openssl x509 -noout -fingerprint -sha256 -in server-ca.pem >/dev/null
rm -rf .ca
