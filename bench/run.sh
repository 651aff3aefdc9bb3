#!/usr/bin/env bash
# make bench: the benchmark suite. Prints one JSON line per measurement and
# writes the lines and a results table under bench/results/, together with
# the machine it ran on.
set -euo pipefail
sluice=${1:-build/sluice}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/results"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
raw="$here/results/$stamp.jsonl"
table="$here/results/$stamp.md"
machine="$(uname -srm), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(free -g | awk '/Mem:/ {print $2}') GiB"

{
  "$here/nexmark.sh" "$sluice"
  "$here/windowed_count.sh" "$sluice" 1000000 1 2
  "$here/checkpoints.sh" "$sluice" 2000000 1000000
  "$here/kafka.sh" "$sluice" "$(dirname "$sluice")/bench/kafka_loop/kafka_loop"
  "$here/cluster.sh" "$sluice" 1000000
  "$here/microbatch.sh" "$sluice"
  "$here/backpressure.sh" "$sluice" 20 100000 2000
} | tee "$raw"

{
  echo "# Benchmark results $stamp"
  echo
  echo "Machine: $machine"
  echo
  echo "| query (mode, parallelism) | events | events/s | events/CPU-s | peak RSS MiB | p50 ms | p99 ms | p999 ms | p9999 ms |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  grep '"query"' "$raw" |
    sed -E 's/"query":"([^"]*)","events":([0-9]*),"parallelism":([0-9]*),(.*)"mode":"([^"]*)",/"query":"\1 (\5, p=\3)","events":\2,\4/' |
    sed -E 's/.*"query":"([^"]*)","events":([0-9]*),.*"events_per_second":([0-9]*).*"events_per_cpu_second":([0-9]*),"peak_rss_bytes":([0-9]*).*"p50":([0-9.]*),"p99":([0-9.]*),"p999":([0-9.]*),"p9999":([0-9.]*).*/| \1 | \2 | \3 | \4 | \5 | \6 | \7 | \8 | \9 |/' |
    awk -F'|' 'BEGIN {OFS="|"} {$6 = sprintf(" %.0f ", $6 / 1048576); print}'
  echo
  echo "| windowed-count | lines | window | parallelism | records/s |"
  echo "| --- | ---: | --- | ---: | ---: |"
  grep '"bench":"windowed-count"' "$raw" | sed -E 's/.*"lines":([0-9]*),"window":"([^"]*)","parallelism":([0-9]*).*"records_per_second":([0-9]*).*/| windowed-count | \1 | \2 | \3 | \4 |/'
  echo
  echo "| cluster job | where | records | records/s |"
  echo "| --- | --- | ---: | ---: |"
  grep '"bench":"cluster"' "$raw" | sed -E 's/.*"job":"([^"]*)","where":"([^"]*)","records":([0-9]*).*"records_per_second":([0-9]*).*/| \1 | \2 | \3 | \4 |/'
  grep '"bench":"cluster-failover"' "$raw" | sed -E 's/.*"kill_to_running_ms":([0-9]*).*/\nTask manager SIGKILL to job running again: \1 ms/'
  echo
  echo "| backpressure (sink at sink rate per subtask) | rate | sink rate | checkpoint p50 ms | max ms | alignment max ms | cancel ms |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  grep '"bench":"backpressure"' "$raw" | sed -E 's/.*"where":"([^"]*)","rate":([0-9]*),"sink_rate":([0-9]*).*"checkpoint_ms":\{"p50":([0-9null]*),"max":([0-9null]*)\},"alignment_ms":\{"p50":[0-9null]*,"max":([0-9null]*)\},"cancel_ms":([0-9]*).*/| \1 | \2 | \3 | \4 | \5 | \6 | \7 |/'
} > "$table"
echo "results: $table"
