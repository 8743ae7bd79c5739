#!/usr/bin/env bash
# gen-custom-ca vs the same work with the openssl CLI (bench/openssl/custom-ca.sh):
# a fresh custom CA tree per run. RUNS=N sets the number of runs (default 11).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
cargo build --release --locked -q -p gen-custom-ca
BIN=$PWD/target/release/gen-custom-ca
OPENSSL_WORK=$PWD/bench/openssl/custom-ca.sh

none() { :; }
ours() { "$BIN" --data-dir "$1/data"; }
theirs() { mkdir -p "$1/data/server/tls" && "$OPENSSL_WORK" "$1/data/server/tls"; }
ours_p384() { "$BIN" --data-dir "$1/data" --root-algorithm ECDSA-P384 --intermediate-algorithm ECDSA-P384; }
theirs_p384() { mkdir -p "$1/data/server/tls" && UPPER=p384 "$OPENSSL_WORK" "$1/data/server/tls"; }

echo "$(openssl version); $(nproc) cores"
compare "custom CA tree: RSA-4096 root + intermediate, 5 P-256 CAs, RSA-2048 service key" none ours theirs
compare "custom CA tree: P-384 root + intermediate, 5 P-256 CAs, RSA-2048 service key" none ours_p384 theirs_p384
