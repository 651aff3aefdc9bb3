// windowed-count: per key and event-time window, the number and the sum of
// the values of CSV input lines `event_time_ms,key,value`, written as
// `window_start_ms,window_end_ms,key,count,sum` into part files. A contract
// that tests and users rely on (see README).
#include <variant>

#include "connectors/file_source.h"
#include "runtime/cli/registry.h"
#include "topologies/csv_events.h"
#include "topologies/window_counts.h"
#include "topologies/window_spec.h"

namespace sluice::topologies {
namespace {

void build(Topology& topology, const Params& params) {
  WindowSpec window = parse_window_spec("window", params.get("window"));
  FileSourceOptions source_options;
  source_options.path = params.get("input");
  source_options.rate = params.has("rate") ? params.get_double("rate") : 0;
  try {
    source_options.on_error = parse_on_error(params.get("on-error"));
  } catch (const UsageError& e) {
    throw UsageError(std::string("parameter 'on-error': ") + e.what());
  }
  bool keep_raw = params.has("late-output");
  auto parse = [keep_raw](std::string_view line, const LineLocation& where) {
    return parse_csv_event(line, where, keep_raw);
  };
  auto strategy = bounded_out_of_orderness([](const CsvEvent& e) { return e.event_time; },
                                           params.get_duration("out-of-orderness"),
                                           params.get_duration("idle-timeout"));
  Stream<CsvEvent> events = topology.source<CsvEvent>(
      "input", std::make_shared<FileSource<CsvEvent, decltype(parse)>>(source_options, parse),
      strategy);
  WindowCountOptions options;
  options.allowed_lateness = params.get_duration("allowed-lateness");
  if (params.has("late-output")) options.late_output = params.get("late-output");
  std::visit(
      [&](auto assigner) {
        count_per_window(events, assigner, options)
            .sink("output", window_count_files(params.get("output")));
      },
      window);
}

SLUICE_TOPOLOGY(TopologySpec{
    "windowed-count",
    "count and sum per key and event-time window of CSV lines event_time_ms,key,value",
    {
        {"input", "input file of CSV lines event_time_ms,key,value", "", true},
        {"output", "output directory for part files of window_start,window_end,key,count,sum",
         "", true},
        {"window", "tumbling:SIZE, sliding:SIZE:SLIDE or session:GAP", "tumbling:1s"},
        {"out-of-orderness", "how late events may arrive before the watermark passes them",
         "0ms"},
        {"allowed-lateness", "how long fired windows accept late records (and fire again)",
         "0ms"},
        {"late-output", "file that receives input lines too late for their windows", ""},
        {"rate", "throttle: input lines per second (over all subtasks)", ""},
        {"on-error", "malformed lines: fail (stop the job) or skip (count and report)", "fail"},
        {"idle-timeout", "a split without input this long stops holding the watermark (0: never)",
         "0ms"},
    },
    build});

}  // namespace
}  // namespace sluice::topologies
