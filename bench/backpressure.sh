#!/usr/bin/env bash
# Checkpoints under backpressure: throttled-count (a keyed count into a sink
# that takes a tenth of the source rate) at parallelism 2 with a checkpoint
# every second, on the embedded cluster (`sluice run`) and on a job manager
# with two task managers. Reports checkpoint duration and alignment (p50 and
# max over the run, from the completion log lines) and how long a cancel
# takes: SIGTERM to the end of `sluice run`, and `sluice cancel` to the end
# of the tasks on the task managers. One JSON line per setup.
# RATE is the source's records per second, SINK_RATE what each sink subtask
# takes (a tenth of RATE by default); OPTIONS go to both runs.
#   bench/backpressure.sh SLUICE [SECONDS] [RATE] [SINK_RATE] [OPTIONS...]
set -euo pipefail
sluice=${1:?usage: backpressure.sh SLUICE [SECONDS] [RATE] [SINK_RATE] [OPTIONS...]}
seconds=${2:-20}
rate=${3:-100000}
sink_rate=${4:-$((rate / 10))}
shift $(($# < 4 ? $# : 4))
extra=("$@")
sluice=$(realpath "$sluice")
. "$(dirname "$0")/cluster_support.sh"

# "p50 max" of checkpoint durations or alignments in FILE's completion lines.
stats() {  # FILE FIELD(duration|alignment)
  sed -n 's/.*checkpoint [0-9]* complete in \([0-9]*\) ms (synchronous part at most [0-9]* ms, alignment at most \([0-9]*\) ms).*/\1 \2/p' "$1" |
    awk -v f="$2" '{ print (f == "duration" ? $1 : $2) }' | sort -n |
    awk '{ v[NR] = $1 } END { if (NR == 0) print "null null"; else print v[int((NR + 1) / 2)], v[NR] }'
}

report() {  # WHERE LOG CANCEL_MS
  read -r d50 dmax < <(stats "$2" duration)
  read -r a50 amax < <(stats "$2" alignment)
  count=$(grep -c 'checkpoint [0-9]* complete in' "$2" || true)
  printf '{"bench":"backpressure","where":"%s","rate":%d,"sink_rate":%d,"parallelism":2,"seconds":%d,"checkpoints":%d,"checkpoint_ms":{"p50":%s,"max":%s},"alignment_ms":{"p50":%s,"max":%s},"cancel_ms":%d,"options":"%s"}\n' \
    "$1" "$rate" "$sink_rate" "$seconds" "$count" "$d50" "$dmax" "$a50" "$amax" "$3" "${extra[*]:-}"
}

job=(throttled-count --parallelism 2 --checkpoint-interval 1s --set rate="$rate"
  --set sink-rate="$sink_rate" "${extra[@]}")

# The embedded cluster.
"$sluice" run "${job[@]}" --log-level info --checkpoint-dir run-ck > /dev/null 2> run.log &
run_pid=$!
pids+=("$run_pid")
wait_for run.log "checkpoint 1 complete"
sleep "$seconds"
signalled=$(now_ms)
kill -TERM "$run_pid"
wait "$run_pid" || true
report "sluice run" run.log $(($(now_ms) - signalled))

# A job manager and two task managers.
start_cluster 2
id=$("$sluice" submit "${job[@]}" --jobmanager "127.0.0.1:$port")
wait_for jm.log "checkpoint 1 complete"
sleep "$seconds"
cancelled=$(now_ms)
"$sluice" cancel "$id" --jobmanager "127.0.0.1:$port" > /dev/null
wait_for tm-1.log "cancelled job $id"
wait_for tm-2.log "cancelled job $id"
ended=$(cat tm-1.log tm-2.log | sed -n "s/^\([0-9-]* [0-9:.]*\) .*cancelled job $id.*/\1/p" |
  while read -r day time; do date -d "$day $time" +%s%3N; done | sort -n | tail -1)
report "2 task managers" jm.log $((ended - cancelled))
