// windowed-count: per key and event-time window, the number and the sum of
// the values of CSV input lines `event_time_ms,key,value`, written as
// `window_start_ms,window_end_ms,key,count,sum` into part files. A contract
// that tests and users rely on (see README).
#include <variant>

#include "connectors/file_source.h"
#include "runtime/job/registry.h"
#include "topologies/csv_events.h"
#include "topologies/csv_input.h"
#include "topologies/window_counts.h"
#include "topologies/window_spec.h"

namespace sluice::topologies {
namespace {

void build(Topology& topology, const Params& params) {
  WindowSpec window = parse_window_spec("window", params.get("window"));
  auto strategy = bounded_out_of_orderness([](const CsvEvent& e) { return e.event_time; },
                                           params.get_duration("out-of-orderness"),
                                           params.get_duration("idle-timeout"));
  Stream<CsvEvent> events =
      read_csv_events(topology, params, params.get("input"), params.has("late-output"), strategy);
  WindowCountOptions options;
  options.allowed_lateness = params.get_duration("allowed-lateness");
  if (params.has("late-output")) options.late_output = params.get("late-output");
  std::visit(
      [&](auto assigner) {
        write_window_counts(count_per_window(events, assigner, options), params, "windowed-count");
      },
      window);
}

std::vector<ParamSpec> windowed_count_params() {
  return with_kafka_params({
      {"input", "CSV lines event_time_ms,key,value: a file, or kafka:TOPIC (message values)", "",
       true},
      {"output",
       "window_start,window_end,key,count,sum lines: part files in a directory, or "
       "kafka:TOPIC (message values keyed by the key)",
       "", true},
      {"window", "tumbling:SIZE, sliding:SIZE:SLIDE or session:GAP", "tumbling:1s"},
      {"out-of-orderness", "how late events may arrive before the watermark passes them", "0ms"},
      {"allowed-lateness", "how long fired windows accept late records (and fire again)", "0ms"},
      {"late-output", "file that receives input lines too late for their windows", ""},
      {"rate", "throttle: input lines per second (over all subtasks)", ""},
      {"output-rate", "a slow file output: lines per second each output subtask writes", ""},
      {"on-error",
       "malformed lines: fail (stop the job), skip (count and report) or, for kafka: input, "
       "dead-letter:TOPIC (send them there)",
       "fail"},
      {"idle-timeout", "a split without input this long stops holding the watermark (0: never)",
       "0ms"},
  });
}

SLUICE_TOPOLOGY(TopologySpec{
    "windowed-count",
    "count and sum per key and event-time window of CSV lines event_time_ms,key,value",
    windowed_count_params(), build});

}  // namespace
}  // namespace sluice::topologies
