#!/usr/bin/env bash
# The cluster against the local run, on this machine: throughput of
# windowed-count (a hash shuffle from the sources to the windows) and of
# wordcount (a shuffle of every word; its records are words) at parallelism 4, run by `sluice run`
# and by a job manager with two task managers of two slots each; then the
# time from a task manager's SIGKILL to the job running again. One JSON line
# per measurement.
#   bench/cluster.sh SLUICE [LINES]
set -euo pipefail
sluice=${1:?usage: cluster.sh SLUICE [LINES]}
lines=${2:-1000000}
sluice=$(realpath "$sluice")
. "$(dirname "$0")/cluster_support.sh"

awk -v n="$lines" 'BEGIN {
  srand(7); t0 = 1767225600000;
  for (i = 0; i < n; i++) printf "%.0f,key%d,%d\n", t0 + i, int(rand() * 1000), int(rand() * 100);
}' > events.csv
awk -v n="$((lines / 2))" 'BEGIN {
  srand(11);
  for (i = 0; i < n; i++) {
    line = "";
    for (w = 0; w < 10; w++) line = line " word" int(rand() * 20000);
    print line;
  }
}' > words.txt

report() {  # JOB WHERE RECORDS START_MS END_MS
  awk -v job="$1" -v where="$2" -v n="$3" -v s="$4" -v e="$5" 'BEGIN {
    printf "{\"bench\":\"cluster\",\"job\":\"%s\",\"where\":\"%s\",\"records\":%d,\"parallelism\":4,\"wall_seconds\":%.3f,\"records_per_second\":%.0f}\n",
      job, where, n, (e - s) / 1000, n / ((e - s) / 1000) }'
}

windowed=(windowed-count --set input=events.csv --set window=tumbling:1s --parallelism 4)
wordcount=(wordcount --set input=words.txt --parallelism 4)

for job in windowed wordcount; do
  if [ "$job" = windowed ]; then args=("${windowed[@]}"); records=$lines; else args=("${wordcount[@]}"); records=$((lines * 5)); fi
  rm -rf out; s=$(now_ms)
  "$sluice" run "${args[@]}" --set output=out 2> /dev/null
  report "${args[0]}" local "$records" "$s" "$(now_ms)"
  start_cluster 2
  rm -rf out; s=$(now_ms)
  "$sluice" submit "${args[@]}" --set output=out --jobmanager "127.0.0.1:$port" --wait > /dev/null 2>&1
  report "${args[0]}" "2 task managers" "$records" "$s" "$(now_ms)"
  stop_cluster
done

# Failover: three task managers of two slots; the job takes four slots, so
# after one is killed the other two have enough free slots at once.
start_cluster 3
rm -rf out
"$sluice" submit windowed-count --set input=events.csv --set window=tumbling:1s --set output=out \
  --set rate=200000 --parallelism 4 --checkpoint-interval 1s --restart-delay 10ms \
  --jobmanager "127.0.0.1:$port" > /dev/null 2>&1
wait_for jm.log "checkpoint 3 complete"
killed_at=$(now_ms)
kill -9 "$tm_pid_1"
wait_for jm.log "attempt 1: all .* tasks running"
log_ms() { date -d "$(grep -m1 "$1" jm.log | awk '{print $1, $2}')" +%s%3N; }
lost_at=$(log_ms 'task manager tm-1 lost')
running_at=$(log_ms 'attempt 1: all .* tasks running')
printf '{"bench":"cluster-failover","kill_to_detected_ms":%d,"detected_to_running_ms":%d,"kill_to_running_ms":%d}\n' \
  $((lost_at - killed_at)) $((running_at - lost_at)) $((running_at - killed_at))
wait_for jm.log "job windowed-count-1 finished"
stop_cluster
