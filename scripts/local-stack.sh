#!/usr/bin/env bash
# The demo stack of docker-compose.yml as local processes, without Docker:
# the development Kafka broker (`sluice dev-kafka`, in place of the Kafka
# container), a job manager, two task managers, the generator and the demo
# job, each started through scripts/stack.sh with the same role as its
# compose service. Logs and checkpoints go to WORKDIR.
#
#   scripts/local-stack.sh [WORKDIR]    runs the stack until Ctrl-C
#
# Sourced (tests/stack_test.sh), it only defines the functions below; they
# take SLUICE (the binary) and WORK (the directory) from the environment.
set -euo pipefail

stack_script=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/stack.sh
declare -A stack_pids=()

# Waits up to $2 seconds for the command in $3... to succeed; $1 names it.
wait_until() {
  local what=$1 seconds=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "local-stack: timed out after ${seconds}s waiting for $what" >&2
      return 1
    fi
    sleep 0.2  # sleep-ok: the polling interval
  done
}

# The first line a process wrote to $1, once there is one.
first_line() { [ -s "$1" ] && head -n 1 "$1"; }
has_line() { [ -s "$1" ]; }

alive() { kill -0 "${stack_pids[$1]}" 2>/dev/null; }

# Runs role $1 in the background as process $2, logging to WORK/$2.log
# (stderr) and WORK/$2.out (stdout); more environment in the rest.
start_role() {
  local role=$1 name=$2
  shift 2
  env "$@" SLUICE="$SLUICE" KAFKA_BOOTSTRAP="$(cat "$WORK/bootstrap")" \
    JOBMANAGER="127.0.0.1:$(cat "$WORK/jobmanager.port" 2>/dev/null || echo 0)" \
    bash "$stack_script" "$role" >"$WORK/$name.out" 2>"$WORK/$name.log" &
  stack_pids[$name]=$!
}

start_broker() {
  "$SLUICE" dev-kafka --topic page-views:4 --topic page-view-counts:2 \
    --topic demo.sluice-commits:1 --bootstrap-file "$WORK/bootstrap" \
    >/dev/null 2>"$WORK/dev-kafka.log" &
  stack_pids[dev-kafka]=$!
  wait_until "the development broker" 30 test -s "$WORK/bootstrap"
}

start_jobmanager() {
  start_role jobmanager jobmanager JOBMANAGER_PORT=0 CHECKPOINT_DIR="$WORK/checkpoints" \
    REST_PORT=0 REST_BIND=127.0.0.1
  wait_until "the job manager's port" 30 has_line "$WORK/jobmanager.out"
  first_line "$WORK/jobmanager.out" >"$WORK/jobmanager.port"
}

# start_taskmanager N: taskmanager-N, on loopback, with a free data port;
# ready once the job manager lists it (its compose healthcheck).
start_taskmanager() {
  local name=taskmanager-$1
  start_role taskmanager "$name" TASKMANAGER_ID="$name" TASKMANAGER_HOST=127.0.0.1 \
    TASKMANAGER_BIND=127.0.0.1 TASKMANAGER_DATA_PORT=0 METRICS_PORT=0 METRICS_BIND=127.0.0.1
  wait_until "$name's data port" 30 has_line "$WORK/$name.out"
  wait_until "$name to register" 30 registered "$name"
}

registered() {
  SLUICE="$SLUICE" JOBMANAGER="$(jobmanager_address)" TASKMANAGER_ID="$1" \
    bash "$stack_script" taskmanager-registered
}

start_generator() { start_role generator generator "$@"; }

# Submits the demo job; its id goes to WORK/demo-job.id.
submit_demo_job() {
  start_role demo-job demo-job
  wait "${stack_pids[demo-job]}" || { cat "$WORK/demo-job.log" >&2; return 1; }
  first_line "$WORK/demo-job.out" >"$WORK/demo-job.id"
}

jobmanager_address() { echo "127.0.0.1:$(cat "$WORK/jobmanager.port")"; }

# The demo job's line of `sluice list`: JOB STATE ATTEMPT LAST-CHECKPOINT ...
demo_job_status() {
  "$SLUICE" list --jobmanager "$(jobmanager_address)" | awk -v job="$(cat "$WORK/demo-job.id")" '$1 == job'
}

# SIGKILLs process $1 of the stack and reaps it.
kill_hard() {
  kill -9 "${stack_pids[$1]}"
  { wait "${stack_pids[$1]}"; } 2>/dev/null || true
}

# Stops the stack's processes, the job's first and the broker last (SIGTERM,
# then SIGKILL after 10 s).
stop_stack() {
  local name
  for name in generator demo-job taskmanager-1 taskmanager-2 jobmanager dev-kafka; do
    [ -n "${stack_pids[$name]:-}" ] || continue
    kill "${stack_pids[$name]}" 2>/dev/null || true
    wait_until "$name to stop" 10 bash -c "! kill -0 ${stack_pids[$name]} 2>/dev/null" ||
      kill_hard "$name"
  done
  stack_pids=()
}

start_stack() {
  mkdir -p "$WORK"
  start_broker
  start_jobmanager
  start_taskmanager 1
  start_taskmanager 2
  start_generator "$@"
  submit_demo_job
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  SLUICE=$(readlink -f "${SLUICE:-build/sluice}")
  WORK=$(readlink -f "${1:-local-stack}")
  trap stop_stack EXIT
  trap 'exit 0' INT TERM
  start_stack
  echo "The demo stack runs as local processes; logs are in $WORK/*.log."
  echo "  broker:     $(cat "$WORK/bootstrap") (sluice dev-kafka)"
  echo "  jobmanager: $(jobmanager_address), job $(cat "$WORK/demo-job.id")"
  echo "  results:    KAFKA_BOOTSTRAP=$(cat "$WORK/bootstrap") scripts/stack.sh reader"
  echo "  check:      KAFKA_BOOTSTRAP=$(cat "$WORK/bootstrap") scripts/stack.sh check --allow-duplicates"
  echo "Ctrl-C stops everything."
  wait "${stack_pids[generator]}" || true
  echo "The generator has finished; the job keeps running until Ctrl-C."
  while true; do
    sleep 3600 &  # sleep-ok: idles until Ctrl-C
    wait $!  # returns at once when Ctrl-C arrives
  done
fi
