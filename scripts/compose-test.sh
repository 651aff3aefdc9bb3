#!/usr/bin/env bash
# make compose-test: the demo stack of docker-compose.yml, run for real in
# Docker, with the scenario of the local stack test (tests/stack_test.sh):
# two checkpoints, SIGKILL of taskmanager-1, the job moves to taskmanager-2
# and checkpoints again, taskmanager-1 comes back, the generator finishes,
# and the output check passes.
#
#   scripts/compose-test.sh [WORKDIR]     logs go to WORKDIR (default build/compose-test)
#
# It starts dockerd when none runs (as root), makes the base images when no
# registry answers (scripts/base-images.sh), builds the image from the
# Dockerfile, and runs the stack with docker-compose.dev-kafka.yml: the
# development broker in place of the Apache Kafka image, which cannot be
# pulled without a registry. What the development broker cannot show (its
# read_committed readers see aborted transactions) the check allows as rows
# that appear twice with the same values; everything else is exact.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(readlink -f "${1:-build/compose-test}")
mkdir -p "$work"
project=sluice-compose-test
started=$SECONDS

step() { printf '[%4ds] %s\n' $((SECONDS - started)) "$*"; }
fail() {
  echo "compose-test: $*" >&2
  exit 1
}

# Debian's docker client (20.10) talks to Debian's dockerd; a newer client
# elsewhere on PATH may want plugins that are not there.
docker=docker
[ -x /usr/bin/docker ] && docker=/usr/bin/docker
if "$docker" compose version >/dev/null 2>&1; then
  compose=("$docker" compose)
else
  compose=(docker-compose)
fi
compose+=(-p "$project" -f docker-compose.yml -f docker-compose.dev-kafka.yml)

# Waits up to $2 seconds for the command in $3... to succeed; $1 names it.
wait_until() {
  local what=$1 seconds=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${seconds}s waiting for $what"
    sleep 1  # polling a container's state
  done
}

if ! "$docker" info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || fail "no Docker engine: run 'scripts/install-deps.sh compose'"
  step "starting dockerd (log: $work/dockerd.log)"
  dockerd >"$work/dockerd.log" 2>&1 &
  wait_until "dockerd" 60 "$docker" info
fi

step "base images"
scripts/base-images.sh "$docker"
step "building the image sluice:latest (the first build compiles Sluice: minutes)"
"$docker" build -q -t sluice:latest . >"$work/image-build.log" 2>&1 ||
  { tail -n 30 "$work/image-build.log" >&2; fail "the image did not build"; }

finish() {
  local status=$?
  "${compose[@]}" logs --no-color >"$work/stack.log" 2>&1 || true
  "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  if [ "$status" -ne 0 ]; then
    echo "compose-test: failed; the stack's logs are in $work/stack.log" >&2
    tail -n 40 "$work/stack.log" >&2
  fi
}
trap finish EXIT
"${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true

# 30 s of page views; the job takes a checkpoint every 3 s.
step "starting the stack (up waits for every healthcheck it depends on)"
GENERATOR_RATE=2000 GENERATOR_DURATION=30s "${compose[@]}" up -d --no-build \
  >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; fail "the stack did not come up"; }

# JOB STATE ATTEMPT LAST-CHECKPOINT of the demo job, from the job manager.
demo_job() {
  "${compose[@]}" exec -T jobmanager sluice list --jobmanager localhost:6123 | awk '$1 ~ /^demo-/'
}
field() { demo_job | awk -v n="$1" '{ print $n }'; }
checkpoints_past() { [ "$(field 4)" -ge "$1" ]; }
restarted_past() { [ "$(field 3)" -ge 1 ] && checkpoints_past "$1"; }
healthy() {
  [ "$("$docker" inspect -f '{{.State.Health.Status}}' "$("${compose[@]}" ps -q "$1")")" = healthy ]
}

wait_until "the demo job to run" 120 checkpoints_past 0
step "running: $(demo_job)"
wait_until "two checkpoints" 120 checkpoints_past 2
killed_after=$(field 4)
"${compose[@]}" kill taskmanager-1 >/dev/null 2>&1
step "killed taskmanager-1 (SIGKILL) after checkpoint $killed_after"
wait_until "the job to restart and checkpoint again" 120 restarted_past $((killed_after + 1))
step "restarted on taskmanager-2: $(demo_job)"
"${compose[@]}" start taskmanager-1 >/dev/null 2>&1
wait_until "taskmanager-1 to register again" 120 healthy taskmanager-1
step "taskmanager-1 is back and registered"

generator=$("${compose[@]}" ps -q generator)
[ "$("$docker" wait "$generator")" = 0 ] || fail "the generator failed"
step "the generator is done"
[ "$(field 2)" = running ] || fail "the demo job is not running: $(demo_job)"

"${compose[@]}" run --rm -T check check --allow-duplicates --max-open 4s --wait 90 |
  tee "$work/check.txt"
grep -q '^OK: nothing lost' "$work/check.txt" || fail "the output check failed"
checked=$(awk '$1 == "checked:" { print $2 }' "$work/check.txt")
[ "$checked" -ge 30000 ] || fail "only $checked page views checked"
step "compose-test passed: $checked page views checked"
