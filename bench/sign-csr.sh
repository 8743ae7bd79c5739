#!/usr/bin/env bash
# sign-csr vs an `openssl x509 -req` loop (bench/openssl/sign-csrs.sh) and a
# `cfssl sign` loop (bench/cfssl/sign-csrs.sh, Debian's golang-cfssl): N CSRs
# (default 10,000; half P-256, half RSA-2048 subjects, made once by `gocheck
# csrs` before any timing) signed by a P-256 CA with the server profile, each
# run on a fresh copy of the directory. RUNS=N runs (default 11; RUNS=3 for a
# quick look: the openssl and cfssl sides take minutes per run).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
N=${N:-10000}
cargo build --release --locked -q -p sign-csr
BIN=$PWD/target/release/sign-csr
OPENSSL_WORK=$PWD/bench/openssl/sign-csrs.sh
CFSSL_WORK=$PWD/bench/cfssl/sign-csrs.sh
command -v cfssl >/dev/null || { echo "bench: cfssl missing (apt-get install golang-cfssl)" >&2; exit 1; }
INPUT=$(mktemp -d)
trap 'rm -rf "$INPUT"' EXIT
(cd gocheck && GOFLAGS=-mod=mod GOPROXY=off go build -o "$INPUT/gocheck" .)
"$INPUT/gocheck" csrs --out "$INPUT/csrs" --count "$N"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$INPUT/server-ca.key" 2>/dev/null
openssl req -x509 -new -key "$INPUT/server-ca.key" -subj /CN=bench-server-ca -days 3650 \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,digitalSignature,keyCertSign \
  -out "$INPUT/server-ca.crt"

# The copy is flushed before timing: neither side should pay for the setup's writes.
copy_csrs() { cp -r "$INPUT/csrs" "$1/csrs" && sync; }
ours() { "$BIN" --ca "$INPUT/server-ca" --profile server --csr "$1/csrs"; }
theirs() { "$OPENSSL_WORK" "$INPUT/server-ca" "$1/csrs"; }
cfssl_loop() { "$CFSSL_WORK" "$INPUT/server-ca" "$1/csrs"; }

echo "$(openssl version); cfssl $(cfssl version | sed -n 's/^Version: //p'); $(nproc) cores"
compare "sign $N CSRs (half P-256, half RSA-2048) with a P-256 CA, server profile" copy_csrs ours theirs \
  cfssl_loop "cfssl sign loop"
