// state-fill: builds large keyed state, for state-backend and checkpoint
// measurements. A seeded generator makes `events` updates of `keys` keys:
// the first `keys` updates create every key, later ones rewrite the first
// `hot-keys` keys round-robin (all keys by default), so a smaller hot set
// leaves most of the state untouched between checkpoints. Each update replaces its key's value with
// `value-bytes` pseudo-random, incompressible bytes, so stored sizes are
// what they seem. When the input ends every key writes one line,
// `key,updates,checksum` (the checksum of its last value), so a run can be
// checked against a computation of what the generator made.
#include "connectors/file_sink.h"
#include "connectors/generator_source.h"
#include "runtime/job/registry.h"

namespace sluice::topologies {
namespace {

struct Update {
  int64_t key = 0;
  uint64_t seed = 0;  // the value's bytes are a function of it
  SLUICE_FIELDS(key, seed)
};

struct KeyValue {
  int64_t updates = 0;
  std::string bytes;
  SLUICE_FIELDS(updates, bytes)
};

struct KeySummary {
  int64_t key = 0;
  int64_t updates = 0;
  uint64_t checksum = 0;
  SLUICE_FIELDS(key, updates, checksum)
};

struct Updates {
  uint64_t keys;
  uint64_t hot_keys;
  Update operator()(uint64_t index, SplitRandom& rng) const {
    uint64_t key = index < keys ? index : (index - keys) % hot_keys;
    return Update{static_cast<int64_t>(key), rng.next()};
  }
};

// Fills `out` with `size` bytes from a splitmix64 sequence seeded by `seed`.
void fill_value(uint64_t seed, size_t size, std::string& out) {
  out.resize(size);
  uint64_t x = seed;
  for (size_t i = 0; i < size; i += 8) {
    x += 0x9e3779b97f4a7c15ULL;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    std::memcpy(out.data() + i, &z, std::min<size_t>(8, size - i));
  }
}

struct KeepLatestValue {
  size_t value_bytes;
  ValueState<KeyValue> state;
  KeyValue scratch;

  void open(KeyedStateBackend& backend) { state = backend.value_state<KeyValue>("value"); }
  void process(const Update& update, KeyedContext<int64_t, KeySummary>& ctx) {
    std::optional<KeyValue> old = state.value();
    scratch.updates = old ? old->updates + 1 : 1;
    fill_value(update.seed, value_bytes, scratch.bytes);
    state.update(scratch);
    if (!old) ctx.register_event_timer(kMaxTimestamp);
  }
  void on_timer(Timestamp, TimeDomain, KeyedContext<int64_t, KeySummary>& ctx) {
    std::optional<KeyValue> value = state.value();
    if (!value) return;
    ctx.emit(KeySummary{ctx.key(), value->updates, hash_bytes(value->bytes)});
  }
};

void format_summary(const KeySummary& s, std::string& out) {
  out += std::to_string(s.key);
  out += ',';
  out += std::to_string(s.updates);
  out += ',';
  out += std::to_string(s.checksum);
}

void build(Topology& topology, const Params& params) {
  int64_t keys = params.get_int("keys");
  int64_t value_bytes = params.get_int("value-bytes");
  int64_t hot_keys = params.has("hot-keys") ? params.get_int("hot-keys") : keys;
  if (keys <= 0) throw UsageError("parameter 'keys' must be positive");
  if (hot_keys <= 0 || hot_keys > keys) {
    throw UsageError("parameter 'hot-keys' must be between 1 and 'keys'");
  }
  if (value_bytes < 0) throw UsageError("parameter 'value-bytes' must not be negative");
  GeneratorOptions generator;
  generator.count = static_cast<uint64_t>(params.get_int("events"));
  generator.rate = params.has("rate") ? params.get_double("rate") : 0;
  generator.seed = static_cast<uint64_t>(params.get_int("seed"));
  auto updates = topology.source<Update>(
      "updates",
      std::make_shared<GeneratorSource<Update, Updates>>(
          generator, Updates{static_cast<uint64_t>(keys), static_cast<uint64_t>(hot_keys)}));
  FileSinkOptions sink;
  sink.directory = params.get("output");
  updates.key_by([](const Update& u) { return u.key; })
      .process<KeySummary>("latest-value",
                           KeepLatestValue{static_cast<size_t>(value_bytes), {}, {}})
      .sink("output", std::make_shared<FileSink<KeySummary, decltype(&format_summary)>>(
                          sink, &format_summary));
}

SLUICE_TOPOLOGY(TopologySpec{
    "state-fill",
    "keeps a large value per key (state and checkpoint measurements)",
    {
        {"events", "updates to make", "1000000"},
        {"keys", "distinct keys", "100000"},
        {"hot-keys", "keys rewritten after the first pass (default: all)", ""},
        {"value-bytes", "bytes of each key's value", "1000"},
        {"rate", "throttle: updates per second (over all subtasks)", ""},
        {"seed", "generator seed", "1"},
        {"output", "output directory for key,updates,checksum lines", "", true},
    },
    build});

}  // namespace
}  // namespace sluice::topologies
