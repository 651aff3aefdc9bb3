#!/usr/bin/env bash
# make demo: a development Kafka broker (`sluice dev-kafka`), a generator job
# producing page views into its `page-views` topic for about 20 seconds, and
# the demo job reading that topic: page views per page in event-time
# windows, RocksDB state, a checkpoint every 2 s, exactly-once part files,
# and a live sample of the results on stdout. At the end the job is stopped
# with drain, and the committed results are checked against every page view
# the generator wrote.
set -euo pipefail
sluice=${1:-build/sluice}
here=$(cd "$(dirname "$0")" && pwd)
out=${DEMO_OUTPUT:-build/demo-output}
duration=${DEMO_DURATION:-20s}
rate=${DEMO_RATE:-10000}
work=$(mktemp -d)
broker='' demo=''
cleanup() {
  [ -n "$demo" ] && kill "$demo" 2>/dev/null
  [ -n "$broker" ] && kill "$broker" 2>/dev/null && wait "$broker" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
rm -rf "$out"
mkdir -p "$out"

# The development broker keeps only about the last 5 MiB of a partition
# (some 120,000 page views); the pages' keys put up to a third of the views
# on one partition. Up to 250,000 views nothing is dropped even if the job
# read nothing until the end; beyond that a slow machine could lose views
# before the job reads them (the job then fails rather than skip them).
seconds=${duration%s}
if [[ $seconds =~ ^[0-9]+$ ]] && ((${rate%.*} * seconds > 250000)); then
  echo "demo: note: ${rate}/s for ${duration} is more than the development broker is sure to" \
    "keep until the job reads it; use DEMO_RATE and DEMO_DURATION below 250,000 views in all" >&2
fi

"$sluice" dev-kafka --topic page-views:4 --bootstrap-file "$work/bootstrap" \
  >/dev/null 2>"$work/dev-kafka.log" &
broker=$!
for _ in $(seq 1 300); do
  [ -f "$work/bootstrap" ] && break
  kill -0 "$broker" 2>/dev/null || { cat "$work/dev-kafka.log" >&2; exit 1; }
  sleep 0.1  # waiting for the broker to publish its address
done
bootstrap=$(cat "$work/bootstrap")

echo "Sluice demo: a development Kafka broker at $bootstrap (sluice dev-kafka),"
echo "a generator job writing ${duration} of page views (${rate}/s) into topic page-views,"
echo "and the demo job counting views per page in 2 s event-time windows from that topic"
echo "(RocksDB state, checkpoints every 2 s, exactly-once output under $out)."
echo "Progress (stderr) shows records in and out per second, the watermark and its"
echo "lag behind the clock (how long after a window ends its result comes);"
echo "results for the five most popular pages print as their windows close."
# The dashboard on 8081, or on the next free port when something else has it.
rest_port=${DEMO_REST_PORT:-8081}
while (: </dev/tcp/127.0.0.1/"$rest_port") 2>/dev/null; do rest_port=$((rest_port + 1)); done
echo "While the job runs, its dashboard and REST API are at the address printed below."
echo
kafka=(--set kafka.bootstrap="$bootstrap" --set kafka.fetch.wait.max.ms=20)
"$sluice" run demo --parallelism 2 --progress --state rocksdb --rest-port "$rest_port" \
  --on-sigterm drain \
  --checkpoint-dir "$work/checkpoints" --checkpoint-interval 2s \
  --set input=kafka:page-views "${kafka[@]}" --set output="$out" &
demo=$!
"$sluice" run page-views --set output=kafka:page-views "${kafka[@]}" \
  --set duration="$duration" --set rate="$rate" 2>"$work/generator.log" >/dev/null ||
  { cat "$work/generator.log" >&2; exit 1; }

# The page views the demo job's window counts have taken in, from its /metrics.
records_read() {
  local metrics=''
  if exec 3<>"/dev/tcp/127.0.0.1/$rest_port"; then
    printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3
    metrics=$(cat <&3 || true)
    exec 3<&-
  fi
  awk '/^sluice_numRecordsIn\{.*vertex="count/ { n += $NF } END { print n + 0 }' \
    <<<"$metrics"
}

# The generator is done. Once the job has read every page view in the topic,
# stop it with drain (SIGTERM, as --on-sigterm drain asks): its sources end
# with the maximum watermark, so the last windows fire too, and the final
# checkpoint commits them. Then check the committed results against every
# page view in the topic: nothing lost, nothing twice, no window left open.
echo
total=$(kcat -b "$bootstrap" -C -t page-views -o beginning -e -q | wc -l)
echo "The generator wrote $total page views; waiting for the job to read them all."
for _ in $(seq 1 600); do
  (($(records_read 2>/dev/null) >= total)) && break
  sleep 0.1  # polling the job's progress, for at most a minute
done
echo "Stopping the job with drain: every window fires, the final checkpoint commits."
kill -TERM "$demo"
stopped=0
wait "$demo" || stopped=$?
demo=''
((stopped == 0)) || echo "demo: the job did not stop cleanly (exit $stopped)" >&2
echo
echo "Checking the committed results against the generator's page views:"
check=0
"$here/check-output.sh" --bootstrap "$bootstrap" --output-dir "$out" --max-open 0s --wait 5 ||
  check=$?
((stopped == 0)) || check=1
echo
files=$(find "$out" -maxdepth 1 -type f -name 'part-*' | sort)
if [ -z "$files" ]; then
  echo "demo: no output files in $out" >&2
  exit 1
fi
echo "Committed output: $(cat $files | wc -l) result lines in $(echo "$files" | wc -l) part files under $out"
echo "window_start_ms,window_end_ms,page,views,dwell_ms_sum (a sample):"
# head closes the pipe early; that is not a failure.
sort -t, -k1,1n -k3,3 $files | head -n 8 || true
exit "$check"
