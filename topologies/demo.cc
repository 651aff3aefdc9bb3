// demo: the job `make demo` runs. A seeded generator produces page-view
// events (page, dwell time in ms) in real time with some disorder; the job
// counts views and sums dwell time per page in tumbling event-time windows,
// writes every result into part files or a Kafka topic and prints a sample
// to stdout.
#include "connectors/generator_source.h"
#include "connectors/stdout_sink.h"
#include "runtime/job/registry.h"
#include "topologies/csv_input.h"
#include "topologies/page_views.h"
#include "topologies/window_counts.h"
#include "topologies/window_spec.h"

namespace sluice::topologies {
namespace {

// The five hot pages, page-0 to page-4.
bool is_popular(const std::string& page) {
  return page.size() == 6 && page[5] < '5';
}

// The page views: generated here (input=generator) or read from Kafka.
Stream<CsvEvent> page_views(Topology& topology, const Params& params) {
  auto strategy = bounded_out_of_orderness([](const CsvEvent& e) { return e.event_time; },
                                           kMaxDisorderMs, params.get_duration("idle-timeout"));
  std::string input = params.get("input");
  if (input != "generator") return read_csv_events(topology, params, input, false, strategy);
  double rate = params.get_double("rate");
  DurationMs duration = params.get_duration("duration");
  if (rate <= 0) throw UsageError("parameter 'rate' must be positive");
  GeneratorOptions generator;
  generator.rate = rate;
  generator.count = static_cast<uint64_t>(rate * static_cast<double>(duration) / 1000.0);
  generator.seed = static_cast<uint64_t>(params.get_int("seed"));
  PageViews views{SystemClock::instance().now_ms(), rate};
  return topology.source<CsvEvent>(
      "page-views", std::make_shared<GeneratorSource<CsvEvent, PageViews>>(generator, views),
      strategy);
}

void build(Topology& topology, const Params& params) {
  Stream<CsvEvent> events = page_views(topology, params);
  WindowSpec window = parse_window_spec("window", params.get("window"));
  StdoutSinkOptions sample;
  sample.max_lines = static_cast<uint64_t>(params.get_int("sample"));
  auto print = [](const WindowCount& w, std::string& out) {
    out += "window " + format_timestamp(w.start) + " " + w.key + ": " + std::to_string(w.count) +
           " views, " + std::to_string(w.sum / std::max<int64_t>(w.count, 1)) + " ms average";
  };
  std::visit(
      [&](auto assigner) {
        Stream<WindowCount> counts = count_per_window(events, assigner, WindowCountOptions{});
        write_window_counts(counts, params, "demo");
        counts.filter("popular", [](const WindowCount& w) { return is_popular(w.key); })
            .sink("sample",
                  std::make_shared<StdoutSink<WindowCount, decltype(print)>>(print, sample))
            .parallelism(1);
      },
      window);
}

SLUICE_TOPOLOGY(TopologySpec{
    "demo", "live page-view counts per page in event-time windows over generated events",
    with_kafka_params({
        {"input",
         "generator (events made here) or kafka:TOPIC (lines the page-views topology wrote)",
         "generator"},
        {"duration", "how long the generator runs", "20s"},
        {"rate", "events per second (generator), or a throttle of the Kafka input", "200000"},
        {"idle-timeout", "a partition without input this long stops holding the watermark", "2s"},
        {"on-error", "malformed input: fail or skip", "fail"},
        {"window", "tumbling:SIZE, sliding:SIZE:SLIDE or session:GAP", "tumbling:2s"},
        {"output",
         "window_start,window_end,page,views,dwell_ms_sum lines: part files in a directory, "
         "or kafka:TOPIC (keyed by the page)",
         "demo-output"},
        {"sample", "result lines printed to stdout", "12"},
        {"seed", "generator seed", "7"},
    }),
    build});

}  // namespace
}  // namespace sluice::topologies
