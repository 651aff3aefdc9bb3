#!/usr/bin/env bash
# Micro-batch against continuous mode on Nexmark q1, q5 and q7 (one JSON
# line per run, from `sluice bench nexmark`):
#   1. events per CPU-second on the unthrottled generator: continuous, and
#      micro-batch back to back in batches of at most BATCH events per split;
#   2. end-to-end latency at a steady THROUGHPUT events per second, event
#      time running as fast as the wall clock: continuous, micro-batch back
#      to back, and micro-batch every second.
#   bench/microbatch.sh SLUICE [EVENTS] [BATCH] [THROUGHPUT] [SECONDS]
set -euo pipefail
sluice=${1:?usage: microbatch.sh SLUICE [EVENTS] [BATCH] [THROUGHPUT] [SECONDS]}
events=${2:-4000000}
batch=${3:-200000}
throughput=${4:-500000}
seconds=${5:-16}
for q in q1 q5 q7; do
  "$sluice" bench nexmark --query "$q" --events "$events"
  "$sluice" bench nexmark --query "$q" --events "$events" --mode microbatch \
    --max-records-per-batch "$batch"
done
steady=$((throughput * seconds))
for q in q1 q5 q7; do
  for mode in "" "--mode microbatch" "--mode microbatch --trigger 1s"; do
    # shellcheck disable=SC2086 # the mode is two or four words
    "$sluice" bench nexmark --query "$q" --events "$steady" --throughput "$throughput" \
      --rate "$throughput" $mode
  done
done
