// page-views: writes the demo's generated page views as CSV lines
// `event_time_ms,page,dwell_ms`, in real time for `duration`, to part files
// or to a Kafka topic (kafka:TOPIC, keyed by the page). `make demo` runs it
// into a development broker while the demo job reads the topic.
#include "topologies/page_views.h"

#include <iterator>

#include <fmt/format.h>

#include "connectors/generator_source.h"
#include "runtime/job/registry.h"
#include "topologies/kafka_endpoints.h"
#include "topologies/line_output.h"

namespace sluice::topologies {
namespace {

void format_csv_event(const CsvEvent& e, std::string& out) {
  fmt::format_to(std::back_inserter(out), "{},{},{}", e.event_time, e.key, e.value);
}

void build(Topology& topology, const Params& params) {
  double rate = params.get_double("rate");
  if (rate <= 0) throw UsageError("parameter 'rate' must be positive");
  GeneratorOptions generator;
  generator.rate = rate;
  generator.count =
      static_cast<uint64_t>(rate * static_cast<double>(params.get_duration("duration")) / 1000.0);
  generator.seed = static_cast<uint64_t>(params.get_int("seed"));
  PageViews views{SystemClock::instance().now_ms(), rate};
  auto events = topology.source<CsvEvent>(
      "page-views", std::make_shared<GeneratorSource<CsvEvent, PageViews>>(generator, views));
  write_lines(events, params, "page-views", &format_csv_event,
              [](const CsvEvent& e) { return e.key; });
}

SLUICE_TOPOLOGY(TopologySpec{
    "page-views", "the demo's generated page views as CSV lines event_time_ms,page,dwell_ms",
    with_kafka_params({
        {"output", "a directory for part files, or kafka:TOPIC (keyed by the page)", "", true},
        {"duration", "how long the generator runs", "20s"},
        {"rate", "events per second", "200000"},
        {"seed", "generator seed", "7"},
    }),
    build});

}  // namespace
}  // namespace sluice::topologies
