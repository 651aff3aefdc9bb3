#!/usr/bin/env bash
# Checkpoint costs, one JSON line per measurement:
#  - windowed-count throughput with a checkpoint every second against none
#    (memory and RocksDB state);
#  - checkpoint duration and size, incremental and full, with a large
#    RocksDB state (KEYS keys of VALUE_BYTES each, default 1000: KEYS=1000000
#    is about 1 GiB);
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

# 2. Checkpoint duration and size with large RocksDB state: state-fill
#    keeps VALUE_BYTES per key; one pass creates KEYS keys, a second as long
#    rewrites the HOT_KEYS (default KEYS/10) again and again. Incremental checkpoints (SST files shared)
#    against full ones (every entry rewritten), then the time a restore of
#    the last checkpoint takes to its first output.
value_bytes=${VALUE_BYTES:-1000}
interval=${CHECKPOINT_INTERVAL:-5s}
hot_keys=${HOT_KEYS:-$((keys / 10))}
for incremental in true false; do
  rm -rf "$work/out" "$work/ck"
  start=$(date +%s%N)
  "$sluice" run state-fill --set keys="$keys" --set events=$((2 * keys)) --set hot-keys="$hot_keys" --set value-bytes="$value_bytes" \
    --set output="$work/out" --state rocksdb --rocksdb-incremental "$incremental" \
    --checkpoint-dir "$work/ck" --checkpoint-interval "$interval" --log-level info 2>"$work/log" >/dev/null
  seconds=$(( ($(date +%s%N) - start) / 1000000 ))
  sed -n 's/.*checkpoint \([0-9]*\) complete in \([0-9]*\) ms (synchronous part at most \([0-9]*\) ms, alignment at most [0-9]* ms): \([0-9]*\) bytes written, \([0-9]*\) bytes in all.*/\1 \2 \3 \4 \5/p' "$work/log" |
    while read -r id ms sync written total; do
      printf '{"bench":"checkpoint-size","keys":%d,"hot_keys":%d,"value_bytes":%d,"incremental":%s,"checkpoint":%d,"duration_ms":%d,"synchronous_ms":%d,"bytes_written":%d,"bytes_total":%d}\n' \
        "$keys" "$hot_keys" "$value_bytes" "$incremental" "$id" "$ms" "$sync" "$written" "$total"
    done
  printf '{"bench":"state-fill-run","keys":%d,"value_bytes":%d,"incremental":%s,"milliseconds":%d}\n' \
    "$keys" "$value_bytes" "$incremental" "$seconds"
  rm -rf "$work/out"
  ls "$work/ck/state-fill"/chk-*/_metadata >/dev/null 2>&1 || continue  # no checkpoint to restore
  start=$(date +%s%N)
  "$sluice" run state-fill --set keys="$keys" --set events=$((2 * keys)) --set hot-keys="$hot_keys" --set value-bytes="$value_bytes" \
    --set output="$work/out" --state rocksdb --rocksdb-incremental "$incremental" \
    --checkpoint-dir "$work/ck" --restore latest --log-level info 2>"$work/log" >/dev/null &
  pid=$!
  until [ -n "$(find "$work/out" -maxdepth 1 -name 'part-*' 2>/dev/null | head -1)" ] || ! kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
  first=$(( ($(date +%s%N) - start) / 1000000 ))
  wait "$pid"
  printf '{"bench":"large-state-restore-to-first-output","keys":%d,"value_bytes":%d,"incremental":%s,"milliseconds":%d}\n' \
    "$keys" "$value_bytes" "$incremental" "$first"
done

# 3. Time from a restore to the first committed output.
rm -rf "$work/out" "$work/ck"
args=(run windowed-count --set input="$work/stream.csv" --set output="$work/out" --set window=tumbling:1s
      --set rate=200000 --state rocksdb --checkpoint-dir "$work/ck" --checkpoint-interval 200ms)
"$sluice" "${args[@]}" 2>/dev/null >/dev/null &
pid=$!
until ls "$work/ck/windowed-count"/chk-*/_metadata >/dev/null 2>&1 || ! kill -0 "$pid" 2>/dev/null; do
  sleep 0.05
done
sleep 1
kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
if ! ls "$work/ck/windowed-count"/chk-*/_metadata >/dev/null 2>&1; then
  echo "checkpoints.sh: the input ended before a checkpoint; give more LINES" >&2
  exit 0
fi
before=$(find "$work/out" -maxdepth 1 -name 'part-*' | wc -l)
start=$(date +%s%N)
"$sluice" "${args[@]}" --restore latest 2>/dev/null >/dev/null &
pid=$!
until [ "$(find "$work/out" -maxdepth 1 -name 'part-*' | wc -l)" -gt "$before" ] || ! kill -0 "$pid" 2>/dev/null; do
  sleep 0.005
done
first=$(( ($(date +%s%N) - start) / 1000000 ))
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
printf '{"bench":"restore-to-first-output","checkpoint_interval":"200ms","milliseconds":%d}\n' "$first"
