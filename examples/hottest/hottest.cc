// hottest: the hottest reading per sensor and event-time window, as a
// program of its own built against an installed Sluice (see README.md here).
//
// Input (parameter `input`): a text file of CSV lines `time_ms,sensor,celsius`
// (event time in milliseconds since the epoch, a non-empty sensor name, a
// finite temperature). Blank lines and a first line that reads exactly
// `time_ms,sensor,celsius` are skipped; any other malformed line fails the
// job with "PATH:LINE: what is wrong". Readings at or below -90 °C, colder
// than any air ever measured (-89.2 °C), come from a faulty probe and are
// dropped.
//
// Output (parameter `output`): part files in a directory, one line per sensor
// and window that had plausible readings:
//
//   window_start_ms,sensor,time_ms,celsius
//
// where window_start_ms is the start of the tumbling window (aligned to the
// epoch), and time_ms and celsius are those of the hottest reading in it; on
// a tie, the earliest one. Celsius is written in the shortest form that reads
// back as the same number ("21.5", "-3", "40.25"). Lines come in no
// particular order. With --checkpoint-interval the sink is exactly-once: a
// part file appears once the checkpoint that covers it completes, and a
// restarted job neither loses nor repeats lines.
//
// Parameters `window` (default 1m) and `out-of-orderness` (default 1s) are
// durations such as 250ms, 10s or 5m. A reading more out of order than that
// may find its window fired already; it is then dropped. `rate` (lines per
// second, default 0: unlimited) slows the input down, to watch a job run.
//
//   hottest run hottest --set input=readings.csv --set output=out
//
// README.md next to this file shows how to build and run it with checkpoints.
#include <charconv>
#include <cmath>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "connectors/file_sink.h"
#include "connectors/file_source.h"
#include "runtime/cli/cli.h"
#include "runtime/core/errors.h"
#include "runtime/job/registry.h"

namespace {

using namespace sluice;

constexpr std::string_view kHeader = "time_ms,sensor,celsius";
// At or below this a reading is a fault of the probe, not a temperature.
constexpr double kImplausibleCelsius = -90;

struct Reading {
  Timestamp time = 0;
  std::string sensor;
  double celsius = 0;
  SLUICE_FIELDS(time, sensor, celsius)  // a codec: it crosses threads and enters state
};

struct Hottest {
  Timestamp window_start = 0;
  Reading reading;
  SLUICE_FIELDS(window_start, reading)
};

// The line in quotes for an error message, cut short when long.
std::string quoted(std::string_view line) {
  constexpr size_t kMaxShown = 60;
  if (line.size() <= kMaxShown) return fmt::format("'{}'", line);
  return fmt::format("'{}...'", line.substr(0, kMaxShown));
}

// Whether the whole of `text` is a number of type T.
template <class T>
bool parse_number(std::string_view text, T& out) {
  const char* end = text.data() + text.size();
  auto [rest, ec] = std::from_chars(text.data(), end, out);
  return !text.empty() && ec == std::errc() && rest == end;
}

std::optional<Reading> parse_reading(std::string_view line, const LineLocation& where) {
  if (line.find_first_not_of(" \t") == std::string_view::npos) return std::nullopt;
  if (where.line == 1 && line == kHeader) return std::nullopt;
  size_t first = line.find(',');
  size_t second = first == std::string_view::npos ? first : line.find(',', first + 1);
  if (second == std::string_view::npos || line.find(',', second + 1) != std::string_view::npos) {
    throw where.error("expected time_ms,sensor,celsius but got " + quoted(line));
  }
  Reading reading;
  if (!parse_number(line.substr(0, first), reading.time)) {
    throw where.error("time_ms is not an integer in " + quoted(line));
  }
  reading.sensor.assign(line.substr(first + 1, second - first - 1));
  if (reading.sensor.empty()) throw where.error("empty sensor in " + quoted(line));
  if (!parse_number(line.substr(second + 1), reading.celsius) || !std::isfinite(reading.celsius)) {
    throw where.error("celsius is not a number in " + quoted(line));
  }
  return reading;
}

// The hotter of two readings; on a tie the earlier, so that the result does
// not depend on the order in which a window's readings arrive.
Reading hotter(const Reading& a, const Reading& b) {
  if (a.celsius != b.celsius) return a.celsius > b.celsius ? a : b;
  return a.time <= b.time ? a : b;
}

void format_hottest(const Hottest& h, std::string& out) {
  fmt::format_to(std::back_inserter(out), "{},{},{},{}", h.window_start, h.reading.sensor,
                 h.reading.time, h.reading.celsius);
}

void build(Topology& topology, const Params& params) {
  DurationMs window = params.get_duration("window");
  if (window == 0) throw UsageError("parameter 'window': must be longer than 0ms");

  FileSourceOptions in;
  in.path = params.get("input");
  in.rate = params.get_double("rate");
  FileSinkOptions out;
  out.directory = params.get("output");

  auto readings =
      std::make_shared<FileSource<Reading, decltype(&parse_reading)>>(in, &parse_reading);
  auto files = std::make_shared<FileSink<Hottest, decltype(&format_hottest)>>(out, &format_hottest);
  auto time_of = [](const Reading& r) { return r.time; };

  topology
      .source<Reading>("readings", readings,
                       bounded_out_of_orderness(time_of, params.get_duration("out-of-orderness")))
      .filter("plausible", [](const Reading& r) { return r.celsius > kImplausibleCelsius; })
      .key_by([](const Reading& r) { return r.sensor; })
      .window(tumbling(window))
      .reduce("hottest", &hotter,
              [](const std::string&, const TimeWindow& w, Reading&& r) {
                return Hottest{w.start, std::move(r)};
              })
      .sink("output", files);
}

SLUICE_TOPOLOGY(TopologySpec{
    "hottest",
    "hottest reading per sensor and event-time window of CSV lines time_ms,sensor,celsius",
    {{"input", "CSV lines time_ms,sensor,celsius", "", true},
     {"output", "window_start_ms,sensor,time_ms,celsius lines: part files in a directory", "",
      true},
     {"window", "tumbling event-time window size", "1m"},
     {"out-of-orderness", "how late readings may arrive before their window fires", "1s"},
     {"rate", "throttle: input lines per second over all subtasks (0: unlimited)", "0"}},
    build});

}  // namespace

int main(int argc, char** argv) {
  return sluice::cli_main(argc, argv);
}
