#!/usr/bin/env bash
# Writes a golden checkpoint: windowed-count on in.csv (1,500 lines, 100 ms
# tumbling windows, parallelism 2) killed by a fault point right after its
# checkpoint 3 completed and before its sinks committed it, leaving the
# checkpoint storage (ck/) and the output directory (out/, with the hidden
# parts checkpoint 3 prepared) as a crash leaves them.
#
#   tests/golden/make_golden.sh SLUICE_BINARY DIR continuous|microbatch
#
# tests/golden_checkpoint_test.cc restores every golden directory and
# checks the exact output, so that this Sluice keeps reading the
# checkpoints of the versions before it. A golden directory is written once,
# by the version whose formats it records, and never regenerated: a new
# format version gets a new directory beside the old ones.
set -euo pipefail
sluice=$(readlink -f "$1")
dir=$2
mode=$3
here=$(dirname "$(readlink -f "$0")")
mkdir -p "$dir"
cp "$here/in.csv" "$dir/in.csv"
cd "$dir"
rm -rf ck out
args=(run windowed-count --set input=in.csv --set output=out --set window=tumbling:100ms
  --set rate=3000 --parallelism 2 --checkpoint-dir ck)
case "$mode" in
  continuous) args+=(--checkpoint-interval 100ms --state memory) ;;
  microbatch) args+=(--mode microbatch --max-records-per-batch 100 --state rocksdb
    --state-dir state) ;;
  *) echo "make_golden: mode must be continuous or microbatch" >&2; exit 2 ;;
esac
status=0
SLUICE_FAULTS=checkpoint.complete-tasks-not-notified=crash@3 "$sluice" "${args[@]}" \
  2>"log" || status=$?
[ "$status" -eq 137 ] || { cat log >&2; echo "make_golden: the run did not crash ($status)" >&2; exit 1; }
rm -rf state log in.csv
echo "golden checkpoint in $dir: $(find ck out -type f | wc -l) files"
