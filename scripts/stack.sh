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
#   TASKMANAGER_BIND       the address its data port listens on (default: 0.0.0.0)
#   TASKMANAGER_DATA_PORT  its data port (default: 6124; 0 picks a free one)
#   REST_PORT, REST_BIND   the job manager's REST API, dashboard and /metrics
#                          (default: 8081 on 0.0.0.0)
#   METRICS_PORT, METRICS_BIND  a task manager's /metrics (default: 9249 on 0.0.0.0)
#   GENERATOR_RATE         page views per second (default: 2000)
#   GENERATOR_DURATION     how long the generator writes (default: 10m)
#
# With the development broker in place of Kafka (docker-compose.dev-kafka.yml),
# which listens only on its own 127.0.0.1 and advertises that address:
#   DEV_KAFKA_BOOTSTRAP_FILE  the broker's bootstrap list, on a volume every
#                             service shares; KAFKA_BOOTSTRAP comes from it
#   DEV_KAFKA_HOST            the broker's host: roles that use Kafka start a
#                             `sluice kafka-relay` to it first (unset: none)
#
# Roles:
#   jobmanager    the job manager; jobs and checkpoints live in CHECKPOINT_DIR
#   taskmanager   a task manager with two slots
#   taskmanager-registered  exits 0 when the job manager lists this task
#                 manager as registered (the task managers' healthcheck)
#   generator     writes page views into the page-views topic, then ends;
#                 writes nothing when the topic already holds page views
#   demo-job      submits the demo job unless one is already running
#   reader        prints the committed results for the five popular pages
#   check         checks the output topic against the input (scripts/check-output.sh)
#   dev-kafka     the development broker, for docker-compose.dev-kafka.yml
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

dev_kafka_file=${DEV_KAFKA_BOOTSTRAP_FILE:-}

# The development broker's bootstrap list, once it published one.
dev_kafka_bootstrap() {
  local deadline=$((SECONDS + 60))
  until [ -s "$dev_kafka_file" ]; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "no bootstrap list in $dev_kafka_file" >&2; exit 1; }
    sleep 0.2  # polling for the broker's file
  done
  head -n 1 "$dev_kafka_file"
}

# Roles that use Kafka reach the development broker through a local relay
# (topologies/tcp_relay.h says why); it lives as long as the role.
start_kafka_relay() {
  [ -n "$dev_kafka_file" ] && [ -n "${DEV_KAFKA_HOST:-}" ] || return 0
  "$sluice" kafka-relay --bootstrap-file "$dev_kafka_file" --to "$DEV_KAFKA_HOST" &
  local port=${bootstrap##*:} deadline=$((SECONDS + 30))
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "the kafka relay did not start" >&2; exit 1; }
    sleep 0.2  # polling for the relay's port
  done
}

if [ -n "$dev_kafka_file" ] && [ "$role" != dev-kafka ]; then bootstrap=$(dev_kafka_bootstrap); fi
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
      --checkpoint-dir "${CHECKPOINT_DIR:-/checkpoints}" --heartbeat-timeout 6s \
      --rest-port "${REST_PORT:-8081}" --rest-bind "${REST_BIND:-0.0.0.0}" "$@"
    ;;
  taskmanager)
    start_kafka_relay  # the job's Kafka sources and sinks run here
    exec "$sluice" taskmanager --jobmanager "$jobmanager" --slots 2 \
      --id "${TASKMANAGER_ID:-$host}" --host "${TASKMANAGER_HOST:-$host}" \
      --bind "${TASKMANAGER_BIND:-0.0.0.0}" --data-port "${TASKMANAGER_DATA_PORT:-6124}" \
      --metrics-port "${METRICS_PORT:-9249}" --metrics-bind "${METRICS_BIND:-0.0.0.0}" "$@"
    ;;
  taskmanager-registered)
    "$sluice" taskmanagers --jobmanager "$jobmanager" |
      awk -v id="${TASKMANAGER_ID:-$host}" '$1 == id { found = 1 } END { exit found ? 0 : 1 }'
    ;;
  generator)
    start_kafka_relay
    # Once: a stack started again must not write a second input.
    if [ -n "$(kcat -C -b "$bootstrap" -t "$input_topic" -o beginning -e -q -c 1 -f '%o\n')" ]; then
      echo "topic $input_topic already holds page views: the generator wrote them before"
      exit 0
    fi
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
    start_kafka_relay
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
    start_kafka_relay
    exec "$(dirname "$(readlink -f "$0")")/check-output.sh" --bootstrap "$bootstrap" \
      --input "$input_topic" --output "$output_topic" --window "$window" "$@"
    ;;
  dev-kafka)
    # Listens on its own 127.0.0.1 (all that the mock can), and relays this
    # container's address at the same ports for the others.
    mkdir -p "$(dirname "$dev_kafka_file")"
    exec "$sluice" dev-kafka --topic "$input_topic:4" --topic "$output_topic:2" \
      --topic demo.sluice-commits:1 --bootstrap-file "$dev_kafka_file" \
      --listen "$(getent hosts "$host" | awk '{ print $1; exit }')" "$@"
    ;;
  *)
    echo "usage: $(basename "$0") jobmanager|taskmanager|taskmanager-registered|generator|demo-job|reader|check|dev-kafka [options]" >&2
    exit 2
    ;;
esac
