#!/usr/bin/env bash
# The installed package, end to end: installs the build into a prefix, builds
# examples/hottest out of tree against it (find_package(Sluice), one target
# Sluice::sluice), and runs the example on generated readings, comparing its
# committed output with a reference computed here with awk.
#
#   package_test.sh BUILD_DIR SOURCE_DIR [CMAKE]
#
# Everything lives under BUILD_DIR/package-test, at fixed paths, so that the
# example's compile hits ccache on the next run. Run by CTest (tests/CMakeLists.txt).
set -euo pipefail

build=$(cd "$1" && pwd)
source_dir=$(cd "$2" && pwd)
cmake=${3:-cmake}

root=$build/package-test
prefix=$root/prefix
example=$root/hottest
work=$root/run

fail() {
  echo "package test: FAILED: $*" >&2
  exit 1
}
step() { echo "== $*"; }

rm -rf "$prefix" "$example" "$work"
mkdir -p "$root" "$work"

step "install into $prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$root/install.log" 2>&1 ||
  { cat "$root/install.log" >&2; fail "cmake --install"; }
config=$(find "$prefix" -path '*/cmake/Sluice/SluiceConfig.cmake')
[[ -n $config ]] || fail "no lib/cmake/Sluice/SluiceConfig.cmake under $prefix"
config_dir=$(dirname "$config")
for file in "$config_dir/SluiceConfigVersion.cmake" "$config_dir/SluiceTargets.cmake" \
  "$prefix/bin/sluice" \
  "$prefix/include/sluice/runtime/cli/cli.h" \
  "$prefix/include/sluice/runtime/cluster/cluster.pb.h" \
  "$prefix/include/sluice/state/state.h" \
  "$prefix/include/sluice/operators/windows.h" \
  "$prefix/include/sluice/connectors/file_source.h" \
  "$prefix/include/sluice/connectors/kafka/kafka_source.h" \
  "$prefix/include/sluice/connectors/nexmark/generator.h"; do
  [[ -f $file ]] || fail "not installed: $file"
done

step "installed sluice lists the bundled topologies"
"$prefix/bin/sluice" topologies >"$root/sluice-topologies.txt"
grep -qx 'windowed-count' "$root/sluice-topologies.txt" ||
  fail "$prefix/bin/sluice topologies does not list windowed-count"

step "the example links one target, Sluice::sluice"
links=$(grep -o 'target_link_libraries([^)]*)' "$source_dir/examples/hottest/CMakeLists.txt")
[[ $links == 'target_link_libraries(hottest PRIVATE Sluice::sluice)' ]] ||
  fail "examples/hottest links more than Sluice::sluice: $links"

step "configure and build examples/hottest"
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
"$cmake" -S "$source_dir/examples/hottest" -B "$example" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" "${launcher[@]}" >"$root/configure.log" 2>&1 ||
  { cat "$root/configure.log" >&2; fail "configuring examples/hottest"; }
grep -qx "Sluice_DIR:PATH=$config_dir" "$example/CMakeCache.txt" ||
  fail "examples/hottest found another Sluice: $(grep '^Sluice_DIR' "$example/CMakeCache.txt")"
"$cmake" --build "$example" -j 1 >"$root/build.log" 2>&1 ||
  { cat "$root/build.log" >&2; fail "building examples/hottest"; }
hottest=$example/hottest

step "the example has the whole command line and its topology"
"$hottest" help >"$work/help.txt"
for command in run topologies jobmanager taskmanager submit list taskmanagers cancel checkpoint \
  dev-kafka kafka-relay; do
  grep -q "^  $command " "$work/help.txt" || fail "hottest help does not list '$command'"
done
"$hottest" topologies >"$work/topologies.txt"
grep -qx 'hottest' "$work/topologies.txt" || fail "hottest topologies does not list hottest"

# 4000 readings of 5 sensors, one every 250 ms, each up to 800 ms earlier
# than its slot (out of order, within the 1s bound), one decimal, ties
# likely; three implausible readings (-90 and below) and one just above.
step "generate readings"
input=$work/readings.csv
awk 'BEGIN {
  srand(7)
  print "time_ms,sensor,celsius"
  for (i = 0; i < 4000; i++) {
    t = 1700000000000 + i * 250 - int(rand() * 800)
    sensor = "sensor-" (1 + int(rand() * 5))
    celsius = sprintf("%.1f", -20 + int(rand() * 650) / 10)
    if (i == 100) celsius = "-90.0"
    if (i == 1500) celsius = "-273.1"
    if (i == 2500) celsius = "-99.5"
    if (i == 3000) celsius = "-89.9"
    printf "%.0f,%s,%s\n", t, sensor, celsius
  }
}' >"$input"
awk -F, 'NR > 2 && $1 + 0 < previous { disordered++ } { previous = $1 + 0 }
  END { exit disordered > 0 ? 0 : 1 }' "$input" || fail "the generated input is in order"

# The reference: per sensor and 30 s window (aligned to the epoch), the
# highest plausible reading, the earliest on a tie.
awk -F, -v size=30000 '
  NR == 1 && $0 == "time_ms,sensor,celsius" { next }
  {
    t = $1 + 0; c = $3 + 0
    if (c <= -90) next
    key = sprintf("%.0f,%s", t - t % size, $2)
    if (!(key in best) || c > best[key] || (c == best[key] && t < at[key])) {
      best[key] = c; at[key] = t
    }
  }
  END { for (key in best) printf "%s,%.0f,%.1f\n", key, at[key], best[key] }' "$input" |
  LC_ALL=C sort >"$work/expected.txt"

# Throttled to half a second, so that checkpoints (and the sink's commits)
# happen while the job runs, not only at its end.
step "run hottest at parallelism 2 with checkpoints"
"$hottest" run hottest --set input="$input" --set output="$work/out" --set window=30s \
  --set out-of-orderness=1s --set rate=8000 --parallelism 2 \
  --checkpoint-dir "$work/checkpoints" --checkpoint-interval 100ms 2>"$work/run.err" ||
  { cat "$work/run.err" >&2; fail "hottest run"; }
[[ -n $(find "$work/checkpoints" -path '*/chk-*/_metadata') ]] ||
  fail "no checkpoint completed: $(cat "$work/run.err")"
mapfile -t parts < <(find "$work/out" -maxdepth 1 -type f ! -name '.*' ! -name '_*' | sort)
((${#parts[@]} > 0)) || fail "no committed output in $work/out"
cat "${parts[@]}" >"$work/actual.raw"
if grep -Evn '^[0-9]+,sensor-[1-5],[0-9]+,-?[0-9]+(\.[0-9]+)?$' "$work/actual.raw" >"$work/bad.txt"; then
  fail "output lines not window_start_ms,sensor,time_ms,celsius: $(head -3 "$work/bad.txt")"
fi
# Compare numbers, not spellings: the example writes 21 where awk writes 21.0.
awk -F, '{ printf "%s,%s,%s,%.1f\n", $1, $2, $3, $4 }' "$work/actual.raw" |
  LC_ALL=C sort >"$work/actual.txt"
diff -u "$work/expected.txt" "$work/actual.txt" || fail "output differs from the reference"
echo "$(wc -l <"$work/actual.txt") windows match the reference"

step "a malformed line fails the run with its file and line"
bad=$work/malformed.csv
{ head -n 300 "$input"; echo "1700000075000,sensor-1"; tail -n +301 "$input"; } >"$bad"
status=0
"$hottest" run hottest --set input="$bad" --set output="$work/out-malformed" --parallelism 2 \
  >/dev/null 2>"$work/malformed.err" || status=$?
((status != 0)) || fail "the run with a malformed line exited 0"
mapfile -t summary < <(grep '^sluice: ' "$work/malformed.err")
((${#summary[@]} == 1)) || { cat "$work/malformed.err" >&2; fail "expected one 'sluice: ' line"; }
[[ ${summary[0]} == *"$bad:301: "* ]] ||
  fail "the error does not name $bad:301: ${summary[0]}"
echo "exit $status: ${summary[0]}"

echo "package test: ok"
