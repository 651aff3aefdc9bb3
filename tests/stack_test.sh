#!/usr/bin/env bash
# The demo stack of docker-compose.yml as local processes (scripts/local-stack.sh:
# the same roles, commands and options as the compose services), with a task
# manager SIGKILLed while the demo job runs on it, then the output check.
#
# usage: tests/stack_test.sh SLUICE_BINARY
#
# What the development broker cannot prove (design section 9): it shows
# rows of aborted transactions to read_committed readers, so after the kill
# the check counts rows that appear twice with the same values instead of
# failing on them (--allow-duplicates); a real broker hides them, and the
# compose stack's check fails on them. Everything else is checked exactly:
# every committed row is the count and dwell sum of its page and window,
# none is missing up to 4 s before the last page view, and none conflicts.
set -euo pipefail

SLUICE=$(readlink -f "$1")
WORK=$(mktemp -d)
here=$(dirname "$(readlink -f "$0")")
source "$here/../scripts/local-stack.sh"

finish() {
  local status=$?
  stop_stack
  if [ "$status" -ne 0 ]; then
    for log in "$WORK"/*.log; do echo "== $log"; tail -n 30 "$log"; done >&2
  fi
  rm -rf "$WORK"
}
trap finish EXIT

fail() {
  echo "stack_test: $*" >&2
  exit 1
}

# JOB STATE ATTEMPT (from 0) LAST-CHECKPOINT of the demo job, as words.
status_field() { demo_job_status | awk -v n="$1" '{ print $n }'; }
checkpoints_past() { [ "$(status_field 4)" -ge "$1" ] 2>/dev/null; }
restarted_past() { [ "$(status_field 3)" -ge 1 ] 2>/dev/null && checkpoints_past "$1"; }

# 24 s of page views; the job takes a checkpoint every 3 s.
start_stack GENERATOR_RATE=2000 GENERATOR_DURATION=24s

# The submitter runs again whenever the stack starts; it must not submit a
# second job while the first runs.
start_role demo-job demo-job-again
wait "${stack_pids[demo-job-again]}" || fail "the second submitter failed"
grep -q 'already running' "$WORK/demo-job-again.out" || fail "a second demo job was submitted"
[ "$("$SLUICE" list --jobmanager "$(jobmanager_address)" | grep -c '^demo-')" -eq 1 ] ||
  fail "not exactly one demo job: $("$SLUICE" list --jobmanager "$(jobmanager_address)")"

# Two checkpoints committed, then a task manager dies mid-epoch.
wait_until "two checkpoints" 60 checkpoints_past 2
killed_after=$(status_field 4)
kill_hard taskmanager-1
echo "killed taskmanager-1 after checkpoint $killed_after"

# The job restarts on taskmanager-2 from its latest checkpoint and goes on
# checkpointing; then taskmanager-1 comes back, as `docker compose start` would.
wait_until "the job to restart and checkpoint again" 90 restarted_past $((killed_after + 1))
echo "restarted: $(demo_job_status)"
start_taskmanager 1

wait "${stack_pids[generator]}" || fail "the generator failed: $(tail -n 3 "$WORK/generator.log")"
# Started again (as `up` restarts a finished service), it writes nothing.
start_role generator generator-again
wait "${stack_pids[generator-again]}" || fail "the second generator failed"
grep -q 'already holds page views' "$WORK/generator-again.out" || fail "the generator wrote again"
[ "$(status_field 2)" = running ] || fail "the demo job is not running: $(demo_job_status)"

KAFKA_BOOTSTRAP=$(cat "$WORK/bootstrap") bash "$here/../scripts/stack.sh" check \
  --allow-duplicates --max-open 4s --wait 90 | tee "$WORK/check.txt"
grep -q '^OK: nothing lost' "$WORK/check.txt" || fail "no OK line"
checked=$(awk '$1 == "checked:" { print $2 }' "$WORK/check.txt")
[ "$checked" -ge 30000 ] || fail "only $checked page views checked"
