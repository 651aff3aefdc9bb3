#include "topologies/nexmark/nexmark_job.h"

#include "connectors/file_source.h"
#include "connectors/generator_source.h"
#include "connectors/nexmark/json.h"
#include "runtime/job/registry.h"
#include "topologies/nexmark/queries.h"

namespace sluice::nexmark {
namespace {

struct GenerateEvent {
  GeneratorConfig config;
  bool stamp_ingestion = false;
  double throughput = 0;         // events released per second; 0: unthrottled
  int64_t released_from_ns = 0;  // when event 0 is released
  Event operator()(uint64_t n, SplitRandom& rng) const {
    Event e = generate_event(config, n, rng);
    if (!stamp_ingestion) return e;
    // Throttled: from its release, or from its making when a burst of the
    // throttle made it earlier.
    e.ingest_ns = steady_now_ns();
    if (throughput > 0) {
      auto released = static_cast<int64_t>(static_cast<double>(n) * 1e9 / throughput);
      e.ingest_ns = std::min(e.ingest_ns, released_from_ns + released);
    }
    return e;
  }
};

struct ReadEvent {
  bool stamp_ingestion = false;
  std::optional<Event> operator()(std::string_view line, const LineLocation& where) const {
    std::optional<Event> e = parse_event_json(line, where);
    if (e && stamp_ingestion) e->ingest_ns = steady_now_ns();
    return e;
  }
};

}  // namespace

GeneratorConfig generator_config_from(const Params& params) {
  GeneratorConfig config;
  config.rate = params.get_int("rate");
  if (config.rate <= 0) throw UsageError("parameter 'rate' must be positive");
  config.seed = static_cast<uint64_t>(params.get_int("seed"));
  config.base_time = params.get_int("base-time");
  return config;
}

Stream<Event> nexmark_events(Topology& topology, const NexmarkJob& job) {
  auto strategy =
      bounded_out_of_orderness([](const Event& e) { return e.date_time(); }, job.out_of_orderness);
  bool stamp = job.latency != nullptr;
  if (!job.input.empty()) {
    FileSourceOptions options;
    options.path = job.input;
    ReadEvent parse{stamp};
    return topology.source<Event>(
        "events", std::make_shared<FileSource<Event, ReadEvent>>(options, parse), strategy);
  }
  GeneratorOptions options;
  options.count = job.events;
  options.seed = job.generator.seed;
  options.rate = job.throughput;
  GenerateEvent generate{job.generator, stamp, job.throughput, steady_now_ns()};
  return topology.source<Event>(
      "events", std::make_shared<GeneratorSource<Event, GenerateEvent>>(options, generate),
      strategy);
}

void build_nexmark(Topology& topology, const NexmarkJob& job) {
  Stream<Event> events = nexmark_events(topology, job);
  OutputTarget out{job.output, job.latency};
  build_query(job.query, events, out);
}

}  // namespace sluice::nexmark
