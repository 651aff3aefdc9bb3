#!/usr/bin/env bash
# make bench: the benchmark suite. Prints one JSON line per measurement and
# keeps a copy under bench/results/ with the machine it ran on.
set -euo pipefail
sluice=${1:-build/sluice}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/results"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
result="$here/results/windowed-count-$stamp.jsonl"
{
  printf '{"machine":"%s","cores":%d,"cpu":"%s"}\n' "$(uname -srm)" "$(nproc)" \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
  "$here/windowed_count.sh" "$sluice" 1000000 1 2
} | tee "$result"
