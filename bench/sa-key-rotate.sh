#!/usr/bin/env bash
# sa-key-rotate vs `openssl genrsa -traditional 2048` + `cat` (what the k3s docs
# type by hand), each run on a fresh data dir with one current key. RUNS=N (default 11).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
cargo build --release --locked -q -p sa-key-rotate
BIN=$PWD/target/release/sa-key-rotate

current_key() {
  mkdir -p "$1/data/server/tls"
  openssl genrsa -traditional -out "$1/data/server/tls/service.key" 2048 2>/dev/null
}
ours() { "$BIN" --data-dir "$1/data"; }
theirs() {
  local out="$1/data/server/rotate-sa/tls"
  mkdir -p "$out"
  openssl genrsa -traditional -out "$out/service.key" 2048 2>/dev/null
  cat "$1/data/server/tls/service.key" >>"$out/service.key"
}

echo "$(openssl version); $(nproc) cores"
compare "service-account key rotation: new RSA-2048 key + current keys" current_key ours theirs
