#!/usr/bin/env bash
# The Nexmark suite at sizes that finish in a few minutes on 2 cores: one
# JSON line per query (from `sluice bench nexmark`).
#   bench/nexmark.sh SLUICE [EVENTS_FAST] [EVENTS_SLOW] [PARALLELISM]
set -euo pipefail
sluice=${1:?usage: nexmark.sh SLUICE [EVENTS_FAST] [EVENTS_SLOW] [PARALLELISM]}
fast=${2:-10000000}  # stateless and light stateful queries
slow=${3:-4000000}   # q4, q5, q11
parallelism=${4:-1}
for q in q0 q1 q2 q3 q7 q8; do
  "$sluice" bench nexmark --query "$q" --events "$fast" --parallelism "$parallelism"
done
for q in q4 q5 q11; do
  "$sluice" bench nexmark --query "$q" --events "$slow" --parallelism "$parallelism"
done
