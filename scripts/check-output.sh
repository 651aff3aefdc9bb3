#!/usr/bin/env bash
# Checks the demo stack's output topic (or, with --output-dir, the committed
# part files of a file sink) against its input topic, read with
# isolation.level=read_committed: every committed result row must be
# the count and dwell-time sum of the page views of its page and window
# (nothing lost, nothing wrong), and no (window, page) may appear twice.
#
# Input messages are `event_time_ms,page,dwell_ms`; output messages are
# `window_start_ms,window_end_ms,page,views,dwell_ms_sum` for tumbling
# windows of --window. The results of a running job are complete up to the
# latest window end in the output; page views in later windows are still in
# the job's state and are reported, not checked. With --max-open D, output
# that is not complete up to D before the last input event fails the check.
#
# Exit 0 when the output is right, 1 when it is not, 2 on bad options or an
# unreadable topic. Needs kcat.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: check-output.sh --bootstrap HOST:PORT [options]

options:
  --bootstrap HOST:PORT   the Kafka brokers
  --input TOPIC           page views (default page-views)
  --output TOPIC          results (default page-view-counts)
  --output-dir DIR        results in the committed part files of DIR instead
                          (names that start with neither '.' nor '_')
  --window D              the tumbling window size, e.g. 2s or 2000ms (default 2s)
  --max-open D            fail unless the output is complete up to D before the
                          last input event (default: no such bound)
  --wait S                while rows are missing, read the output again every
                          second for up to S seconds (default 30)
  --allow-duplicates      count rows that appear twice with the same values instead
                          of failing: for a development broker, which shows rows of
                          aborted transactions that a real broker hides
EOF
}

fail_usage() {
  echo "check-output: $1" >&2
  exit 2
}

# Milliseconds of "250ms", "5s", "2m" or a bare number of milliseconds.
to_ms() {
  local text=$1 number unit
  [[ $text =~ ^([0-9]+)(ms|s|m)?$ ]] || fail_usage "'$text' is not a duration (like 2s or 500ms)"
  number=${BASH_REMATCH[1]} unit=${BASH_REMATCH[2]}
  case "$unit" in
    s) echo $((number * 1000)) ;;
    m) echo $((number * 60000)) ;;
    *) echo "$number" ;;
  esac
}

bootstrap='' input=page-views output=page-view-counts output_dir='' window_ms=2000 max_open_ms=-1
wait_s=30 allow_duplicates=0
while [ $# -gt 0 ]; do
  option=$1
  case "$option" in
    --allow-duplicates) allow_duplicates=1; shift; continue ;;
    -h | --help) usage; exit 0 ;;
    --bootstrap | --input | --output | --output-dir | --window | --max-open | --wait) ;;
    *) fail_usage "unknown option '$option' (see --help)" ;;
  esac
  [ $# -ge 2 ] || fail_usage "$option needs a value"
  case "$option" in
    --bootstrap) bootstrap=$2 ;;
    --input) input=$2 ;;
    --output) output=$2 ;;
    --output-dir) output_dir=$2 ;;
    --window) window_ms=$(to_ms "$2") ;;
    --max-open) max_open_ms=$(to_ms "$2") ;;
    --wait) [[ $2 =~ ^[0-9]+$ ]] || fail_usage "--wait: '$2' is not a number of seconds"; wait_s=$2 ;;
  esac
  shift 2
done
[ -n "$bootstrap" ] || fail_usage "missing --bootstrap HOST:PORT"
[ "$window_ms" -gt 0 ] || fail_usage "--window must be positive"
if [ -n "$output_dir" ]; then
  [ -d "$output_dir" ] || fail_usage "--output-dir: no directory $output_dir"
  output=$output_dir
fi
command -v kcat >/dev/null || fail_usage "kcat is not installed"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Every committed message value of a topic, one per line, into a file.
read_topic() {
  local topic=$1 file=$2
  if ! kcat -C -b "$bootstrap" -t "$topic" -o beginning -e -q -f '%s\n' \
    -X isolation.level=read_committed -X fetch.wait.max.ms=50 >"$file" 2>"$work/kcat.err"; then
    echo "check-output: cannot read topic '$topic' at $bootstrap: $(head -n 1 "$work/kcat.err")" >&2
    exit 2
  fi
}

# Compares the output rows with the expected rows computed from the input;
# prints the report and its verdict as the last line: "ok N" (N rows seen
# twice, allowed), incomplete or failed.
compare() {
  awk -F, -v window="$window_ms" -v max_open="$max_open_ms" -v allow_dups="$allow_duplicates" \
    -v input="$input" -v output="$output" '
    function malformed(topic, line, why) {
      if (!bad) printf "malformed message %d in %s: %s: %s\n", line, topic, why, $0
      bad++
    }
    function utc(ms) { return strftime("%Y-%m-%d %H:%M:%S", int(ms / 1000), 1) }
    # Milliseconds since the epoch exceed what awk prints as an integer by
    # default; keys are built from their exact decimal text.
    function ms(x) { return sprintf("%.0f", x) }
    FNR == NR {
      if (NF != 3 || $1 !~ /^[0-9]+$/ || $3 !~ /^[0-9]+$/) { malformed(input, FNR, "expected event_time_ms,page,dwell_ms"); next }
      key = ms($1 - $1 % window) SUBSEP $2
      views[key]++; dwell[key] += $3; events++
      if ($1 + 0 > last) last = $1 + 0
      next
    }
    {
      if (NF != 5 || $1 !~ /^[0-9]+$/ || $2 != $1 + window || $4 !~ /^[0-9]+$/ || $5 !~ /^[0-9]+$/) {
        malformed(output, FNR, "expected window_start_ms,window_end_ms,page,views,dwell_ms_sum of a " window " ms window")
        next
      }
      rows++
      key = ms($1) SUBSEP $3; value = $4 "," $5
      if (key in seen) {
        if (seen[key] != value) { if (!conflicts) print "twice with different values: " $0; conflicts++ }
        else { if (!twice) print "twice: " $0; twice++ }
        next
      }
      seen[key] = value
      if (!(key in views)) { if (!unexpected) print "no such page views in the input: " $0; unexpected++ }
      else if (views[key] != $4 || dwell[key] != $5) {
        if (!wrong) printf "wrong: %s (the input has %d views, %d ms)\n", $0, views[key], dwell[key]
        wrong++
      }
      if ($2 + 0 > through) through = $2 + 0
    }
    END {
      for (key in views) {
        split(key, part, SUBSEP)
        if (part[1] + window <= through) {
          checked += views[key]; windows++
          if (!(key in seen)) { if (!lost) printf "lost: window %s page %s (%d views)\n", part[1], part[2], views[key]; lost += views[key] }
        } else open += views[key]
      }
      printf "input:   %d page views in %s, the last at %s UTC\n", events, input, events ? utc(last) : "-"
      printf "output:  %d rows in %s, complete through %s UTC\n", rows, output, rows ? utc(through) : "-"
      printf "checked: %d page views in %d (window, page) rows: %d lost, %d rows twice, %d wrong\n", checked, windows, lost, twice + conflicts, wrong + unexpected
      printf "open:    %d page views in windows that end later, still in the job'"'"'s state\n", open
      if (bad || conflicts || wrong || unexpected || (twice && !allow_dups)) { print "failed"; exit }
      # No rows at all proves nothing: the job has not published yet, or
      # the topic is not the output of the job.
      if (lost || (events && !rows) || (max_open >= 0 && last - through > max_open)) { print "incomplete"; exit }
      print "ok", twice + 0
    }' "$work/in" "$work/out"
}

# The committed part files of the output directory, one row per line.
read_files() {
  find "$output_dir" -maxdepth 1 -type f ! -name '.*' ! -name '_*' -print0 |
    sort -z | xargs -0 -r cat >"$1"
}

read_topic "$input" "$work/in"
deadline=$((SECONDS + wait_s))
while true; do
  if [ -n "$output_dir" ]; then read_files "$work/out"; else read_topic "$output" "$work/out"; fi
  compare >"$work/report"
  verdict=$(tail -n 1 "$work/report")
  [ "$verdict" = incomplete ] && [ "$SECONDS" -lt "$deadline" ] || break
  sleep 1  # sleep-ok: polling; the job publishes results at its next checkpoints
done
sed '$d' "$work/report"
case "$verdict" in
  "ok 0") echo "OK: nothing lost, nothing twice" ;;
  ok*) echo "OK: nothing lost; ${verdict#ok } rows twice with the same values, allowed (--allow-duplicates)" ;;
  incomplete) echo "FAILED: the output is incomplete" >&2; exit 1 ;;
  *) echo "FAILED: the output does not match the input" >&2; exit 1 ;;
esac
