#!/usr/bin/env bash
# State cost, both backends, one JSON line per run: the stateful Nexmark
# queries (sluice bench nexmark) and windowed-count over generated lines
# with 1,000 and 1,000,000 keys, whose line carries CPU seconds, records per
# CPU-second and peak RSS of the process. Given several binaries (a build
# before and after a change), every case runs on each binary in turn, so a
# noisy machine disturbs both alike; the "binary" field says which ran.
#   bench/state.sh [--events N] [--lines N] SLUICE [SLUICE...]
set -euo pipefail
events=2000000
lines=1000000
while [ $# -gt 0 ]; do
  case $1 in
    --events) events=$2; shift 2 ;;
    --lines) lines=$2; shift 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { echo "usage: state.sh [--events N] [--lines N] SLUICE [SLUICE...]" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

make_input() {  # make_input KEYS FILE
  awk -v n="$lines" -v keys="$1" 'BEGIN {
    srand(7); t0 = 1767225600000;
    for (i = 0; i < n; i++) {
      printf "%.0f,key%d,%d\n", t0 + i + int(rand() * 200), int(rand() * keys), int(rand() * 100);
    }
  }' > "$2"
}
make_input 1000 "$work/keys-1k.csv"
make_input 1000000 "$work/keys-1m.csv"

windowed_count() {  # windowed_count SLUICE STATE KEYS
  local sluice=$1 state=$2 keys=$3
  rm -rf "$work/out" "$work/state"
  /usr/bin/time -f '%U %S %M' -o "$work/time" "$sluice" run windowed-count --state "$state" \
    --state-dir "$work/state" --set input="$work/keys-$keys.csv" --set output="$work/out" \
    --set window=tumbling:1s --set out-of-orderness=200ms >/dev/null 2>&1
  read -r user sys rss_kb < "$work/time"
  awk -v b="$sluice" -v s="$state" -v k="$keys" -v n="$lines" -v u="$user" -v y="$sys" -v r="$rss_kb" \
    'BEGIN { cpu = u + y; printf "{\"bench\":\"windowed-count\",\"binary\":\"%s\",\"state\":\"%s\",\"keys\":\"%s\",\"records\":%d,\"cpu_seconds\":%.3f,\"records_per_cpu_second\":%.0f,\"peak_rss_bytes\":%d}\n", b, s, k, n, cpu, n / cpu, r * 1024 }'
}

for state in rocksdb memory; do
  for q in q5 q11 q8; do
    for sluice in "$@"; do
      printf '{"binary":"%s",' "$sluice"
      "$sluice" bench nexmark --query "$q" --events "$events" --state "$state" | sed 's/^{//'
    done
  done
  for keys in 1k 1m; do
    for sluice in "$@"; do windowed_count "$sluice" "$state" "$keys"; done
  done
done
