#!/usr/bin/env bash
# scripts/check-output.sh against hand-made topics on the development
# broker: right output passes; a lost row, a row twice, a wrong count and a
# malformed row each fail, with a line that names the row.
#
# usage: tests/check_output_test.sh SLUICE_BINARY
set -euo pipefail

sluice=$(readlink -f "$1")
here=$(dirname "$(readlink -f "$0")")
work=$(mktemp -d)
broker=''
finish() {
  [ -n "$broker" ] && kill "$broker" 2>/dev/null && wait "$broker" 2>/dev/null
  rm -rf "$work"
}
trap finish EXIT

fail() {
  echo "check_output_test: $*" >&2
  exit 1
}

topics=(in right lost twice wrong malformed open)
args=()
for topic in "${topics[@]}"; do args+=(--topic "$topic:1"); done
"$sluice" dev-kafka "${args[@]}" --bootstrap-file "$work/bootstrap" >/dev/null 2>"$work/broker.log" &
broker=$!
for _ in $(seq 1 150); do
  [ -s "$work/bootstrap" ] && break
  sleep 0.2  # sleep-ok: polling for the broker's bootstrap file
done
bootstrap=$(cat "$work/bootstrap")

produce() {  # produce TOPIC LINE...
  local topic=$1
  shift
  printf '%s\n' "$@" | kcat -P -b "$bootstrap" -t "$topic" -p 0
}

# Page views in 1 s windows: two in [1000, 2000) for page-a, one for page-b,
# one in [2000, 3000) for page-a, and the last, open one, in [5000, 6000).
produce in 1000,page-a,10 1999,page-a,20 1500,page-b,7 2100,page-a,1 5100,page-a,3
right=(1000,2000,page-a,2,30 1000,2000,page-b,1,7 2000,3000,page-a,1,1)
produce right "${right[@]}"
produce lost "${right[0]}" "${right[2]}"
produce twice "${right[@]}" "${right[1]}"
produce wrong 1000,2000,page-a,3,30 "${right[1]}" "${right[2]}"
produce malformed "${right[@]}" 2000,2500,page-a,1,1
produce open "${right[@]}"

expect() {  # expect STATUS PATTERN OUTPUT [options]: the checker's exit code and a report line
  local status=$1 pattern=$2 output=$3 actual=0
  shift 3
  local target=(--output "$output")
  [ -n "$output" ] || target=()
  bash "$here/../scripts/check-output.sh" --bootstrap "$bootstrap" --input in "${target[@]}" \
    --window 1s --wait 0 "$@" >"$work/report" 2>&1 || actual=$?
  [ "$actual" -eq "$status" ] || fail "$output $*: exit $actual, expected $status: $(cat "$work/report")"
  grep -q -- "$pattern" "$work/report" ||
    fail "$output $*: no line matching '$pattern' in: $(cat "$work/report")"
}

expect 0 '^OK: nothing lost, nothing twice$' right
expect 0 '^open: *1 page views' right
expect 0 '^checked: 4 page views in 3 ' right
expect 1 '^lost: window 1000 page page-b (1 views)$' lost
expect 1 '^twice: 1000,2000,page-b,1,7$' twice
expect 0 '^OK: nothing lost; 1 rows twice' twice --allow-duplicates
expect 1 '^wrong: 1000,2000,page-a,3,30 (the input has 2 views, 30 ms)$' wrong
expect 1 '^malformed message 4 in malformed' malformed
# The last page view is 3.1 s after the output's end (3000): complete to
# within 4 s, not within 2 s.
expect 0 '^OK' open --max-open 4s
expect 1 'incomplete' open --max-open 2s
expect 2 'unknown option' right --frobnicate
expect 1 '^output:  0 rows in absent' absent

# Part files of a file sink instead of an output topic: only committed ones
# (names starting with neither '.' nor '_') count.
parts=$work/parts
mkdir -p "$parts"
printf '%s\n' "${right[0]}" "${right[1]}" >"$parts/part-0-0"
printf '%s\n' "${right[2]}" >"$parts/part-1-0"
printf '%s\n' "${right[2]}" >"$parts/.part-1-1.pending"
expect 0 '^OK: nothing lost, nothing twice$' "" --output-dir "$parts"
printf '%s\n' "${right[0]}" >"$parts/part-0-0"
expect 1 '^lost: window 1000 page page-b (1 views)$' "" --output-dir "$parts"
expect 2 'no directory' "" --output-dir "$work/none"
echo "check-output.sh: all cases behave"
