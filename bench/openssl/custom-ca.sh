#!/usr/bin/env bash
# The work of gen-custom-ca done with the openssl CLI, as generate-custom-ca-certs.sh
# does it: RSA-4096 root (7300 d), RSA-4096 intermediate (3700 d), five P-256 leaf CAs
# (3700 d), the bundles, and an RSA-2048 service key. Usage: custom-ca.sh TLS_DIR
set -euo pipefail
umask 077
TS=$(date +%s)
cd "$1"
mkdir -p etcd
cat >ext <<'CONF'
[v3_ca]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
basicConstraints = critical, CA:true
keyUsage = critical, digitalSignature, keyEncipherment, keyCertSign
[v3_ec_ca]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
basicConstraints = critical, CA:true
keyUsage = critical, digitalSignature, keyCertSign
CONF
openssl genrsa -traditional -out service.key 2048 2>/dev/null
openssl genrsa -traditional -out root-ca.key 4096 2>/dev/null
openssl req -x509 -new -nodes -sha256 -days 7300 -subj "/CN=k3s-root-ca@$TS" \
  -key root-ca.key -out root-ca.pem -config ext -extensions v3_ca
cat root-ca.pem >root-ca.crt
openssl genrsa -traditional -out intermediate-ca.key 4096 2>/dev/null
openssl req -new -nodes -subj "/CN=k3s-intermediate-ca@$TS" -key intermediate-ca.key |
  openssl x509 -req -sha256 -days 3700 -CA root-ca.pem -CAkey root-ca.key \
    -set_serial "0x$(openssl rand -hex 16)" -extfile ext -extensions v3_ca -out intermediate-ca.pem 2>/dev/null
cat intermediate-ca.pem root-ca.pem >intermediate-ca.crt
for TYPE in client server request-header etcd/peer etcd/server; do
  openssl ecparam -name prime256v1 -genkey -noout -out "$TYPE-ca.key"
  openssl req -new -nodes -subj "/CN=k3s-$(echo "$TYPE" | tr / -)-ca@$TS" -key "$TYPE-ca.key" |
    openssl x509 -req -sha256 -days 3700 -CA intermediate-ca.pem -CAkey intermediate-ca.key \
      -set_serial "0x$(openssl rand -hex 16)" -extfile ext -extensions v3_ec_ca -out "$TYPE-ca.pem" 2>/dev/null
  cat "$TYPE-ca.pem" intermediate-ca.pem root-ca.pem >"$TYPE-ca.crt"
done
rm ext
