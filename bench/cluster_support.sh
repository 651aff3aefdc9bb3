# Sourced by the bench scripts that start sluice processes: a work
# directory that is removed, with every started process killed, on exit;
# a clock in milliseconds; waiting for a log line; and a local cluster.
# Needs $sluice (an absolute path) and $0's name for messages.
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

now_ms() { date +%s%3N; }

# Waits until `file` has a line matching `pattern` (bench setup, not a test).
wait_for() {
  local file=$1 pattern=$2
  for _ in $(seq 600); do grep -q "$pattern" "$file" 2>/dev/null && return 0; sleep 0.1; done
  echo "$(basename "$0"): timed out waiting for '$pattern' in $file" >&2
  exit 1
}

# A job manager (log jm.log, port in $port) and TASK_MANAGERS task managers
# tm-1.. of two slots (logs tm-N.log, pids in $tm_pid_N).
start_cluster() {  # TASK_MANAGERS
  rm -rf ck jm.log tm-*.log
  "$sluice" jobmanager --port 0 --checkpoint-dir ck > jm.port 2> jm.log &
  pids+=($!)
  wait_for jm.log "listening on port"
  port=$(head -1 jm.port)
  for i in $(seq "$1"); do
    "$sluice" taskmanager --jobmanager "127.0.0.1:$port" --slots 2 --id "tm-$i" > /dev/null 2> "tm-$i.log" &
    pids+=($!)
    eval "tm_pid_$i=$!"
    wait_for jm.log "task manager tm-$i registered"
  done
}

stop_cluster() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}
