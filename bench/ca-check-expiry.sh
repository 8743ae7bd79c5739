#!/usr/bin/env bash
# Scale of `ca-check expiry`: a directory of 10,000 certificate files (made by the
# Go oracle, not timed), scanned RUNS times (default 11); prints the median.
# For comparison: what a shell loop of `openssl x509 -enddate` over the files costs.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-11}
COUNT=${COUNT:-10000}
cargo build --release --locked -q -p ca-check
BIN=$PWD/target/release/ca-check
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd gocheck && GOFLAGS=-mod=mod GOPROXY=off go build -o "$work/gocheck" .)
"$work/gocheck" cert-corpus --count "$COUNT" --out "$work/certs"
times=()
for ((i = 0; i < RUNS; i++)); do
  t0=$(date +%s%N)
  "$BIN" expiry "$work/certs" >/dev/null || true
  t1=$(date +%s%N)
  times+=($(( (t1 - t0) / 1000 )))
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]/1000}')
rows=$("$BIN" expiry -o json "$work/certs" | grep -c '"status"' || true)
echo "ca-check expiry over $COUNT certificate files: median ${median} ms of $RUNS runs ($rows rows)"
# One `openssl x509` process per file is slow: time a sample of 500 and scale.
sample=500
t0=$(date +%s%N)
find "$work/certs" -name '*.crt' | awk -v n="$sample" 'NR <= n' | while read -r f; do openssl x509 -noout -enddate -in "$f"; done >/dev/null
t1=$(date +%s%N)
per_file=$(( (t1 - t0) / sample / 1000 ))
echo "openssl x509 -enddate, one process per file (shell loop): ${per_file} us/file, about $(( per_file * COUNT / 1000 )) ms for $COUNT files (from a sample of $sample)"
