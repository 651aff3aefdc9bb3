// throttled-count: a keyed job against a slow sink, for backpressure
// measurements. A generator makes `rate` records per second over `keys`
// keys; a keyed operator counts them per key and emits each key's new
// count; the sink takes at most `sink-rate` records per second per subtask
// (connectors/paced_sink.h), a tenth of the source rate by default, so the
// channels fill and stay full. bench/backpressure.sh runs it with
// checkpoints and measures how long they take and how fast a cancel ends it.
// With `output`, the sink writes "key,count" lines as exactly-once part
// files, so a test can check them: every key's counts 1..n, each once.
#include "connectors/file_sink.h"
#include "connectors/generator_source.h"
#include "connectors/paced_sink.h"
#include "runtime/job/registry.h"

namespace sluice::topologies {
namespace {

struct Tick {
  int64_t key = 0;
  SLUICE_FIELDS(key)
};

struct KeyCount {
  int64_t key = 0;
  int64_t count = 0;
  SLUICE_FIELDS(key, count)
};

struct Ticks {
  uint64_t keys;
  Tick operator()(uint64_t index, SplitRandom&) const {
    return Tick{static_cast<int64_t>(index % keys)};
  }
};

struct RunningCount {
  ValueState<int64_t> count;
  void open(KeyedStateBackend& state) { count = state.value_state<int64_t>("count"); }
  void process(const Tick&, KeyedContext<int64_t, KeyCount>& ctx) {
    int64_t now = count.value().value_or(0) + 1;
    count.update(now);
    ctx.emit(KeyCount{ctx.key(), now});
  }
};

void format_key_count(const KeyCount& c, std::string& out) {
  fmt::format_to(std::back_inserter(out), "{},{}", c.key, c.count);
}

// The paced sink, with the part files of `output` behind it when given.
std::shared_ptr<const Sink<KeyCount>> slow_sink(double rate, const Params& params) {
  if (!params.has("output")) return std::make_shared<PacedSink<KeyCount>>(rate);
  FileSinkOptions files;
  files.directory = params.get("output");
  return std::make_shared<PacedSink<KeyCount>>(
      rate,
      std::make_shared<FileSink<KeyCount, decltype(&format_key_count)>>(files, &format_key_count));
}

void build(Topology& topology, const Params& params) {
  int64_t keys = params.get_int("keys");
  if (keys <= 0) throw UsageError("parameter 'keys' must be positive");
  GeneratorOptions generator;
  generator.count = static_cast<uint64_t>(params.get_int("events"));
  generator.rate = params.get_double("rate");
  if (generator.rate <= 0) throw UsageError("parameter 'rate' must be positive");
  double sink_rate = params.has("sink-rate") ? params.get_double("sink-rate") : generator.rate / 10;
  if (sink_rate <= 0) throw UsageError("parameter 'sink-rate' must be positive");
  topology
      .source<Tick>("ticks", std::make_shared<GeneratorSource<Tick, Ticks>>(
                                 generator, Ticks{static_cast<uint64_t>(keys)}))
      .key_by([](const Tick& t) { return t.key; })
      .process<KeyCount>("count", RunningCount{})
      .rebalance()
      .sink("slow-sink", slow_sink(sink_rate, params));
}

SLUICE_TOPOLOGY(TopologySpec{
    "throttled-count",
    "counts per key into a slow sink (backpressure measurements)",
    {
        {"events", "records to generate (0: without end)", "0"},
        {"rate", "records per second over all subtasks", "100000"},
        {"sink-rate", "records per second each sink subtask takes (default: rate / 10)", ""},
        {"keys", "distinct keys", "10000"},
        {"output", "a directory for \"key,count\" part files (default: the counts are dropped)",
         ""},
    },
    build});

}  // namespace
}  // namespace sluice::topologies
