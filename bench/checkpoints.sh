#!/usr/bin/env bash
# Checkpoint costs, one JSON line per measurement:
#  - windowed-count throughput with a checkpoint every second against none
#    (memory and RocksDB state);
#  - checkpoint duration and size with a large RocksDB state (KEYS distinct
#    keys held in one long window; scale KEYS up to reach about 1 GiB);
#  - time from a restore (process start) to the first committed output.
#   bench/checkpoints.sh SLUICE [LINES] [KEYS]
set -euo pipefail
sluice=${1:?usage: checkpoints.sh SLUICE [LINES] [KEYS]}
lines=${2:-2000000}
keys=${3:-2000000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

awk -v n="$lines" 'BEGIN { srand(5); t0 = 1767225600000;
  for (i = 0; i < n; i++) printf "%.0f,key%d,%d\n", t0 + i, int(rand() * 1000), int(rand() * 100) }' \
  > "$work/stream.csv"
awk -v n="$keys" 'BEGIN { t0 = 1767225600000;
  for (i = 0; i < n; i++) printf "%.0f,state-key-%d,%d\n", t0 + i % 1000, i, i % 97 }' \
  > "$work/keys.csv"

rate_of() { sed -n 's/.*records in (\([0-9]*\)\/s).*/\1/p'; }

# 1. Throughput with and without checkpoints.
for state in memory rocksdb; do
  for interval in none 1s; do
    rm -rf "$work/out" "$work/ck"
    extra=()
    [ "$interval" != none ] && extra=(--checkpoint-dir "$work/ck" --checkpoint-interval "$interval")
    rate=$("$sluice" run windowed-count --set input="$work/stream.csv" --set output="$work/out" \
      --set window=tumbling:1s --state "$state" "${extra[@]}" 2>&1 >/dev/null | rate_of)
    printf '{"bench":"checkpoint-throughput","lines":%d,"state":"%s","checkpoint_interval":"%s","records_per_second":%s}\n' \
      "$lines" "$state" "$interval" "${rate:-0}"
  done
done

# 2. Checkpoint duration and size with large RocksDB state (throttled so
#    that checkpoints happen while the state grows).
rm -rf "$work/out" "$work/ck"
"$sluice" run windowed-count --set input="$work/keys.csv" --set output="$work/out" \
  --set window=tumbling:1h --set rate=$((keys / 8)) --state rocksdb \
  --checkpoint-dir "$work/ck" --checkpoint-interval 1s --checkpoints-retained 100 \
  --log-level info 2>"$work/log" >/dev/null
grep -o 'checkpoint [0-9]* complete in [0-9]* ms' "$work/log" | while read -r _ id _ _ ms _; do
  bytes=$(du -sb "$work/ck/windowed-count/chk-$id" 2>/dev/null | cut -f1)
  printf '{"bench":"checkpoint-size","keys":%d,"checkpoint":%d,"duration_ms":%d,"bytes":%d,"incremental":false}\n' \
    "$keys" "$id" "$ms" "${bytes:-0}"
done

# 3. Time from a restore to the first committed output.
rm -rf "$work/out" "$work/ck"
args=(run windowed-count --set input="$work/stream.csv" --set output="$work/out" --set window=tumbling:1s
      --set rate=200000 --state rocksdb --checkpoint-dir "$work/ck" --checkpoint-interval 200ms)
"$sluice" "${args[@]}" 2>/dev/null >/dev/null &
pid=$!
until ls "$work/ck/windowed-count"/chk-*/_metadata >/dev/null 2>&1; do sleep 0.05; done
sleep 1
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
before=$(find "$work/out" -maxdepth 1 -name 'part-*' | wc -l)
start=$(date +%s%N)
"$sluice" "${args[@]}" --restore latest 2>/dev/null >/dev/null &
pid=$!
until [ "$(find "$work/out" -maxdepth 1 -name 'part-*' | wc -l)" -gt "$before" ]; do sleep 0.005; done
first=$(( ($(date +%s%N) - start) / 1000000 ))
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
printf '{"bench":"restore-to-first-output","checkpoint_interval":"200ms","milliseconds":%d}\n' "$first"
