#!/usr/bin/env bash
# The demo stack's processes, one role per call: docker-compose.yml runs
# every Sluice service through this script (installed in the image as
# `sluice-stack`), and scripts/local-stack.sh runs the same roles as local
# processes, so both run the same commands with the same options. Only the
# addresses differ; they come from the environment:
#
#   SLUICE                 the sluice binary (default: sluice)
#   KAFKA_BOOTSTRAP        the Kafka brokers (default: kafka:9092)
#   JOBMANAGER             the job manager HOST:PORT (default: jobmanager:6123)
#   JOBMANAGER_PORT        the port the job manager listens on (default: 6123)
#   CHECKPOINT_DIR         checkpoint storage every process reaches (default: /checkpoints)
#   TASKMANAGER_ID         a task manager's name (default: the host name)
#   TASKMANAGER_HOST       where other task managers reach it (default: the host name)
#   TASKMANAGER_DATA_PORT  its data port (default: 6124; 0 picks a free one)
#   GENERATOR_RATE         page views per second (default: 2000)
#   GENERATOR_DURATION     how long the generator writes (default: 10m)
#
# Roles:
#   jobmanager    the job manager; jobs and checkpoints live in CHECKPOINT_DIR
#   taskmanager   a task manager with two slots
#   generator     writes page views into the page-views topic, then ends
#   demo-job      submits the demo job unless one is already running
#   reader        prints the committed results for the five popular pages
#   check         checks the output topic against the input (scripts/check-output.sh)
set -euo pipefail

role=${1:-}
[ $# -gt 0 ] && shift
sluice=${SLUICE:-sluice}
bootstrap=${KAFKA_BOOTSTRAP:-kafka:9092}
jobmanager=${JOBMANAGER:-jobmanager:6123}
host=${HOSTNAME:-$(uname -n)}

readonly input_topic=page-views
readonly output_topic=page-view-counts
readonly window=2s

kafka=(--set "kafka.bootstrap=$bootstrap")

# Exit 0 when a demo job is already running (or waiting or restarting) on
# the cluster: the submitter runs again when the stack is started again,
# and the job manager resumes its jobs by itself.
demo_job_running() {
  "$sluice" list --jobmanager "$jobmanager" |
    awk '$1 ~ /^demo-[0-9]+$/ && $2 != "finished" && $2 != "failed" && $2 != "cancelled" { found = 1 }
         END { exit found ? 0 : 1 }'
}

case "$role" in
  jobmanager)
    exec "$sluice" jobmanager --port "${JOBMANAGER_PORT:-6123}" \
      --checkpoint-dir "${CHECKPOINT_DIR:-/checkpoints}" --heartbeat-timeout 6s "$@"
    ;;
  taskmanager)
    exec "$sluice" taskmanager --jobmanager "$jobmanager" --slots 2 \
      --id "${TASKMANAGER_ID:-$host}" --host "${TASKMANAGER_HOST:-$host}" \
      --data-port "${TASKMANAGER_DATA_PORT:-6124}" "$@"
    ;;
  generator)
    exec "$sluice" run page-views --set "output=kafka:$input_topic" "${kafka[@]}" \
      --set "rate=${GENERATOR_RATE:-2000}" --set "duration=${GENERATOR_DURATION:-10m}" "$@"
    ;;
  demo-job)
    if demo_job_running; then
      echo "a demo job is already running (sluice list --jobmanager $jobmanager)"
      exit 0
    fi
    # Page views per page in 2 s event-time windows, RocksDB state, a
    # checkpoint every 3 s into the job manager's checkpoint directory, and
    # exactly-once output: one Kafka transaction per checkpoint.
    exec "$sluice" submit demo --jobmanager "$jobmanager" --parallelism 2 \
      --state rocksdb --checkpoint-interval 3s \
      --set "input=kafka:$input_topic" --set "output=kafka:$output_topic" \
      --set "window=tumbling:$window" "${kafka[@]}" \
      --set kafka.guarantee=exactly-once --set kafka.transactional-id=demo "$@"
    ;;
  reader)
    # Committed results only (read_committed), as they are published.
    kcat -C -b "$bootstrap" -t "$output_topic" -o beginning -u -q -f '%s\n' \
      -X isolation.level=read_committed "$@" |
      awk -F, '$3 ~ /^page-[0-4]$/ {
        printf "window %s+2s %s: %d views, %d ms average dwell\n",
               strftime("%H:%M:%S", int($1 / 1000), 1), $3, $4, $5 / $4
        fflush()
      }'
    ;;
  check)
    exec "$(dirname "$(readlink -f "$0")")/check-output.sh" --bootstrap "$bootstrap" \
      --input "$input_topic" --output "$output_topic" --window "$window" "$@"
    ;;
  *)
    echo "usage: $(basename "$0") jobmanager|taskmanager|generator|demo-job|reader|check [options]" >&2
    exit 2
    ;;
esac
