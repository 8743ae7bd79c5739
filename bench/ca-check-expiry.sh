#!/usr/bin/env bash
# Scale of `ca-check expiry`: a directory of 10,000 certificate files (made by the
# Go oracle, not timed), scanned RUNS times (default 11); prints the median.
# For comparison, the same scan with the openssl CLI (one `openssl x509` per file)
# is timed once: that is what a shell loop over the files costs.
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
t0=$(date +%s%N)
find "$work/certs" -name '*.crt' -exec openssl x509 -noout -enddate -in {} \; >/dev/null
t1=$(date +%s%N)
echo "openssl x509 -enddate per file (shell loop), once: $(( (t1 - t0) / 1000000 )) ms"
