// demo: the job `make demo` runs. A seeded generator produces page-view
// events (page, dwell time in ms) in real time with some disorder; the job
// counts views and sums dwell time per page in tumbling event-time windows,
// writes every result into part files and prints a sample to stdout.
#include "connectors/generator_source.h"
#include "connectors/split_random.h"
#include "connectors/stdout_sink.h"
#include "runtime/cli/registry.h"
#include "topologies/window_counts.h"
#include "topologies/window_spec.h"

namespace sluice::topologies {
namespace {

constexpr DurationMs kMaxDisorderMs = 500;

// Event n happens n / rate seconds after `start`, up to kMaxDisorderMs early.
struct PageViews {
  Timestamp start;
  double rate;
  CsvEvent operator()(uint64_t index, SplitRandom& rng) const {
    CsvEvent e;
    e.event_time = start + static_cast<Timestamp>(static_cast<double>(index) * 1000.0 / rate) -
                   rng.between(0, kMaxDisorderMs);
    // A few popular pages and a long tail.
    uint64_t page = rng.chance(0.5) ? rng.below(5) : rng.below(200);
    e.key = "page-" + std::to_string(page);
    e.value = rng.between(100, 60000);
    return e;
  }
};

// The five hot pages, page-0 to page-4.
bool is_popular(const std::string& page) { return page.size() == 6 && page[5] < '5'; }

void build(Topology& topology, const Params& params) {
  double rate = params.get_double("rate");
  DurationMs duration = params.get_duration("duration");
  if (rate <= 0) throw UsageError("parameter 'rate' must be positive");
  GeneratorOptions generator;
  generator.rate = rate;
  generator.count = static_cast<uint64_t>(rate * static_cast<double>(duration) / 1000.0);
  generator.seed = static_cast<uint64_t>(params.get_int("seed"));
  PageViews views{SystemClock::instance().now_ms(), rate};
  auto strategy = bounded_out_of_orderness([](const CsvEvent& e) { return e.event_time; },
                                           kMaxDisorderMs);
  auto events = topology.source<CsvEvent>(
      "page-views", std::make_shared<GeneratorSource<CsvEvent, PageViews>>(generator, views),
      strategy);

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
        counts.sink("output", window_count_files(params.get("output")));
        counts.filter("popular", [](const WindowCount& w) { return is_popular(w.key); })
            .sink("sample", std::make_shared<StdoutSink<WindowCount, decltype(print)>>(print,
                                                                                      sample))
            .parallelism(1);
      },
      window);
}

SLUICE_TOPOLOGY(TopologySpec{
    "demo",
    "live page-view counts per page in event-time windows over generated events",
    {
        {"duration", "how long the generator runs", "20s"},
        {"rate", "events per second", "200000"},
        {"window", "tumbling:SIZE, sliding:SIZE:SLIDE or session:GAP", "tumbling:2s"},
        {"output", "output directory for part files", "demo-output"},
        {"sample", "result lines printed to stdout", "12"},
        {"seed", "generator seed", "7"},
    },
    build});

}  // namespace
}  // namespace sluice::topologies
