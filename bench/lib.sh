# Shared by the benchmark scripts: timing and side-by-side reporting.
# Each benchmark runs both commands RUNS times (default 11), alternating, each run
# in a fresh directory, and prints median/min/max wall time and the ratio of medians.
# Run directories are removed at the end, not between runs: on ext4 without a
# journal (this machine's disk), creating a file for minutes after thousands were
# deleted scans past every recently deleted inode, and the run after a removal
# would pay for the benchmark's own cleanup (measured: about 0.4 ms per file
# created right after removing 20,000).

RUNS=${RUNS:-11}

# now_ns: wall clock in nanoseconds.
now_ns() { date +%s%N; }

# median/min/max of the numbers on stdin (milliseconds).
stats() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f %.1f %.1f\n", m, a[1], a[NR]}'; }

# compare NAME SETUP_FN OURS_FN OPENSSL_FN [OTHER_FN OTHER_LABEL]: runs each side
# RUNS times, alternating; each function gets a fresh dir. OTHER is a second
# tool doing the same work (cfssl), reported beside openssl.
compare() {
  local name=$1 setup=$2 ours=$3 theirs=$4 other=${5:-} other_label=${6:-} work i dir t0 t1 side fn
  local sides=(ours theirs)
  [ -n "$other" ] && sides+=(other)
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  for side in "${sides[@]}"; do : >"$work/$side"; done
  for ((i = 0; i < RUNS; i++)); do
    for side in "${sides[@]}"; do
      dir="$work/$side-$i"
      mkdir -p "$dir"
      $setup "$dir"
      case $side in
        ours) fn=$ours ;;
        theirs) fn=$theirs ;;
        other) fn=$other ;;
      esac
      t0=$(now_ns)
      $fn "$dir" >/dev/null 2>&1 || { echo "bench: $side run $i failed" >&2; $fn "$dir"; return 1; }
      t1=$(now_ns)
      echo "$(( (t1 - t0) / 1000 ))" | awk '{printf "%.3f\n", $1/1000}' >>"$work/$side"
    done
  done
  read -r om omin omax < <(stats <"$work/ours")
  read -r tm tmin tmax < <(stats <"$work/theirs")
  printf '\n%s (%d runs each, wall time in ms)\n' "$name" "$RUNS"
  printf '  %-22s median %9s   min %9s   max %9s\n' "ours" "$om" "$omin" "$omax"
  printf '  %-22s median %9s   min %9s   max %9s\n' "openssl CLI" "$tm" "$tmin" "$tmax"
  if [ -n "$other" ]; then
    read -r xm xmin xmax < <(stats <"$work/other")
    printf '  %-22s median %9s   min %9s   max %9s\n' "$other_label" "$xm" "$xmin" "$xmax"
  fi
  awk -v o="$om" -v t="$tm" 'BEGIN {printf "  ratio (openssl / ours, medians): %.2fx faster\n", t/o}'
  if [ -n "$other" ]; then
    awk -v o="$om" -v t="$xm" -v l="$other_label" \
      'BEGIN {printf "  ratio (%s / ours, medians): %.2fx faster\n", l, t/o}'
  fi
}
