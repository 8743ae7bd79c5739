#!/usr/bin/env bash
# rotate-default-ca vs the same rotation with the openssl CLI
# (bench/openssl/rotate-default-ca.sh), each run on a fresh k3s default data dir
# made by the Go fixture generator (not timed). RUNS=N (default 11).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
cargo build --release --locked -q -p rotate-default-ca
BIN=$PWD/target/release/rotate-default-ca
OPENSSL_WORK=$PWD/bench/openssl/rotate-default-ca.sh
GOCHECK=$PWD/target/gocheck/gocheck-bench
(cd gocheck && GOFLAGS=-mod=mod GOPROXY=off go build -o "$GOCHECK" .)

fixture() { "$GOCHECK" k3s-fixture --out "$1/data" >/dev/null; }
ours() { "$BIN" --data-dir "$1/data"; }
theirs() { "$OPENSSL_WORK" "$1/data"; }

echo "$(openssl version); $(nproc) cores"
compare "default CA rotation: 5 CAs cross-signed, new intermediates, RSA-2048 service key" fixture ours theirs
