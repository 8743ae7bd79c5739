#!/usr/bin/env bash
# The work of gen-custom-ca done with the openssl CLI, as generate-custom-ca-certs.sh
# does it: RSA-4096 root (7300 d), RSA-4096 intermediate (3700 d), five P-256 leaf CAs
# (3700 d), the bundles, and an RSA-2048 service key. Usage: custom-ca.sh TLS_DIR
# With UPPER=p384 the root and intermediate are P-384 (ecdsa-with-SHA384) instead.
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
upper_key() {
  if [ "${UPPER:-rsa}" = p384 ]; then
    openssl ecparam -name secp384r1 -genkey -noout -out "$1"
  else
    openssl genrsa -traditional -out "$1" 4096 2>/dev/null
  fi
}
UPPER_EXT=v3_ca UPPER_MD=-sha256
[ "${UPPER:-rsa}" = p384 ] && UPPER_EXT=v3_ec_ca UPPER_MD=-sha384
upper_key root-ca.key
openssl req -x509 -new -nodes "$UPPER_MD" -days 7300 -subj "/CN=k3s-root-ca@$TS" \
  -key root-ca.key -out root-ca.pem -config ext -extensions "$UPPER_EXT"
cat root-ca.pem >root-ca.crt
upper_key intermediate-ca.key
openssl req -new -nodes -subj "/CN=k3s-intermediate-ca@$TS" -key intermediate-ca.key |
  openssl x509 -req "$UPPER_MD" -days 3700 -CA root-ca.pem -CAkey root-ca.key \
    -set_serial "0x$(openssl rand -hex 16)" -extfile ext -extensions "$UPPER_EXT" -out intermediate-ca.pem 2>/dev/null
cat intermediate-ca.pem root-ca.pem >intermediate-ca.crt
for TYPE in client server request-header etcd/peer etcd/server; do
  openssl ecparam -name prime256v1 -genkey -noout -out "$TYPE-ca.key"
  openssl req -new -nodes -subj "/CN=k3s-$(echo "$TYPE" | tr / -)-ca@$TS" -key "$TYPE-ca.key" |
    openssl x509 -req "$UPPER_MD" -days 3700 -CA intermediate-ca.pem -CAkey intermediate-ca.key \
      -set_serial "0x$(openssl rand -hex 16)" -extfile ext -extensions v3_ec_ca -out "$TYPE-ca.pem" 2>/dev/null
  cat "$TYPE-ca.pem" intermediate-ca.pem root-ca.pem >"$TYPE-ca.crt"
done
rm ext
