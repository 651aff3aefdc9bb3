// Two-input operators against references computed here with plain loops:
// the keyed co-process function (state and both kinds of timers shared by
// the inputs), the interval join (out-of-order input on both sides, late
// records, both state backends) and broadcast state (keyed and not). Each
// keyed one also runs on one subtask whole, and on two subtasks that
// snapshot and restore into three: the outputs must be equal.
#include <algorithm>
#include <map>
#include <random>
#include <tuple>

#include <gtest/gtest.h>

#include "operators/broadcast_process.h"
#include "operators/interval_join.h"
#include "operators/keyed_process.h"
#include "runtime/core/hash.h"
#include "tests/operator_harness.h"
#include "tests/process_runner.h"

namespace sluice {
namespace {

using testing::HarnessSetup;
using testing::TempDir;
using testing::TwoInputHarness;

struct Left {
  std::string key;
  int64_t value = 0;
  SLUICE_FIELDS(key, value)
};
struct Right {
  std::string key;
  int64_t value = 0;
  SLUICE_FIELDS(key, value)
};

auto left_key = [](const Left& l) { return l.key; };
auto right_key = [](const Right& r) { return r.key; };

// One step of a two-sided input: a watermark, or a record for one side.
struct Step {
  enum Kind { kWatermark, kLeft, kRight } kind;
  std::string key;
  int64_t value = 0;
  Timestamp time = 0;
};

// Out of order by up to 30 ms behind a watermark that moves in small steps;
// about a third of the records are late.
std::vector<Step> make_steps(unsigned seed, int count = 3000) {
  std::mt19937 rng(seed);
  std::vector<Step> steps;
  Timestamp wm = 0;
  for (int i = 0; i < count; ++i) {
    if (rng() % 8 == 0) {
      wm += static_cast<Timestamp>(rng() % 7);
      steps.push_back(Step{Step::kWatermark, "", 0, wm});
    } else {
      Step::Kind kind = rng() % 2 == 0 ? Step::kLeft : Step::kRight;
      steps.push_back(Step{kind, "k" + std::to_string(rng() % 9), static_cast<int64_t>(i),
                           wm + static_cast<Timestamp>(rng() % 30) - 10});
    }
  }
  steps.push_back(Step{Step::kWatermark, "", 0, kMaxTimestamp});
  return steps;
}

// The steps whose records are not late: ts above the watermark before them.
std::vector<Step> on_time(const std::vector<Step>& steps) {
  std::vector<Step> out;
  Timestamp wm = kMinTimestamp;
  for (const Step& s : steps) {
    if (s.kind == Step::kWatermark) {
      wm = s.time;
    } else if (s.time > wm) {
      out.push_back(s);
    }
  }
  return out;
}

int subtask_of(const std::string& key, int parallelism) {
  KeyGroup g = key_group_for_hash(hash_bytes(encode_to_string(key)), kDefaultMaxParallelism);
  return subtask_for_key_group(g, kDefaultMaxParallelism, parallelism);
}

template <class Out>
void feed(TwoInputHarness<Left, Right, Out>& h, const Step& s) {
  switch (s.kind) {
    case Step::kWatermark:
      h.watermark(s.time);
      break;
    case Step::kLeft:
      h.push1(Left{s.key, s.value}, s.time);
      break;
    case Step::kRight:
      h.push2(Right{s.key, s.value}, s.time);
      break;
  }
}

// Runs `steps` on one subtask; then on two subtasks up to `cut`, snapshots
// them and restores into three for the rest. Records go to the subtask of
// their key (as hash partitioning sends them), watermarks to all. Returns
// both outputs, sorted.
template <class Out, class MakeOp>
std::pair<std::vector<Out>, std::vector<Out>> run_rescaled(const std::vector<Step>& steps,
                                                           size_t cut, MakeOp make_op,
                                                           StateBackendConfig state = {}) {
  using Harness = TwoInputHarness<Left, Right, Out>;
  int instance = 0;
  auto state_for_next = [&] {  // each RocksDB instance in a directory of its own
    StateBackendConfig config = state;
    config.rocksdb.directory += "/" + std::to_string(instance++);
    return config;
  };
  Harness whole(make_op(), HarnessSetup{0, 1, 0, nullptr, state_for_next()});
  for (const Step& s : steps) feed(whole, s);

  auto run_on = [&](int parallelism, size_t from, size_t to, const OperatorRestore* restore,
                    std::vector<Out>& out, OperatorRestore* snapshot_into) {
    std::vector<std::unique_ptr<Harness>> subtasks;
    for (int p = 0; p < parallelism; ++p) {
      subtasks.push_back(std::make_unique<Harness>(
          make_op(), HarnessSetup{p, parallelism, 0, restore, state_for_next()}));
    }
    for (size_t i = from; i < to; ++i) {
      if (steps[i].kind == Step::kWatermark) {
        for (auto& h : subtasks) feed(*h, steps[i]);
      } else {
        feed(*subtasks[static_cast<size_t>(subtask_of(steps[i].key, parallelism))], steps[i]);
      }
    }
    for (auto& h : subtasks) {
      for (Out& o : h->output.take()) out.push_back(std::move(o));
      if (snapshot_into == nullptr) continue;
      OperatorSnapshot snapshot = h->snapshot(1);
      snapshot_into->keyed.push_back(decode_versioned<KeyedSnapshot>(
          KeyedSnapshot::kFormat, encode_versioned(KeyedSnapshot::kFormat, *snapshot.keyed)));
      snapshot_into->operator_states.push_back(snapshot.operator_state);
    }
  };
  std::vector<Out> rescaled;
  OperatorRestore restore;
  run_on(2, 0, cut, nullptr, rescaled, &restore);
  run_on(3, cut, steps.size(), &restore, rescaled, nullptr);

  std::vector<Out> expected = whole.output.take();
  std::sort(expected.begin(), expected.end());
  std::sort(rescaled.begin(), rescaled.end());
  return {expected, rescaled};
}

// ---------------------------------------------------------------------------
// Keyed co-process: per key and 10 ms bucket, the count of each side's
// on-time records, emitted when the watermark passes the bucket.

using BucketRow = std::tuple<std::string, Timestamp, int64_t, int64_t>;

struct BucketCounts {
  MapState<Timestamp, std::pair<int64_t, int64_t>> counts;

  void open(KeyedStateBackend& state) {
    counts = state.map_state<Timestamp, std::pair<int64_t, int64_t>>("counts");
  }
  void process1(const Left&, KeyedContext<std::string, BucketRow>& c) { count(c, true); }
  void process2(const Right&, KeyedContext<std::string, BucketRow>& c) { count(c, false); }
  void on_timer(Timestamp ts, TimeDomain, KeyedContext<std::string, BucketRow>& c) {
    Timestamp bucket = ts - 9;
    auto n = counts.get(bucket).value_or(std::pair<int64_t, int64_t>{});
    c.emit(BucketRow{c.key(), bucket, n.first, n.second});
    counts.remove(bucket);
  }
  void count(KeyedContext<std::string, BucketRow>& c, bool left) {
    if (c.timestamp() <= c.watermark()) return;  // late
    Timestamp bucket = c.timestamp() - ((c.timestamp() % 10) + 10) % 10;
    auto n = counts.get(bucket).value_or(std::pair<int64_t, int64_t>{});
    (left ? n.first : n.second) += 1;
    counts.put(bucket, n);
    c.register_event_timer(bucket + 9);
  }
};

using CoProcess = KeyedCoProcessOperator<Left, Right, BucketRow, std::string, decltype(left_key),
                                         decltype(right_key), BucketCounts>;

std::vector<BucketRow> bucket_reference(const std::vector<Step>& steps) {
  std::map<std::pair<std::string, Timestamp>, std::pair<int64_t, int64_t>> counts;
  for (const Step& s : on_time(steps)) {
    Timestamp bucket = s.time - ((s.time % 10) + 10) % 10;
    auto& n = counts[{s.key, bucket}];
    (s.kind == Step::kLeft ? n.first : n.second) += 1;
  }
  std::vector<BucketRow> out;
  for (const auto& [k, n] : counts) out.emplace_back(k.first, k.second, n.first, n.second);
  return out;
}

TEST(KeyedCoProcess, BothInputsShareStateAndEventTimers) {
  std::vector<Step> steps = make_steps(21);
  TwoInputHarness<Left, Right, BucketRow> h(
      std::make_unique<CoProcess>(left_key, right_key, BucketCounts{}));
  for (const Step& s : steps) feed(h, s);
  std::vector<BucketRow> rows = h.output.take();
  std::sort(rows.begin(), rows.end());
  std::vector<BucketRow> expected = bucket_reference(steps);
  ASSERT_GT(expected.size(), 200u);
  EXPECT_EQ(rows, expected);
}

// A processing-time timer set by one input fires with state the other wrote.
struct PairUp {
  ValueState<int64_t> left;
  ValueState<int64_t> right;
  void open(KeyedStateBackend& state) {
    left = state.value_state<int64_t>("left");
    right = state.value_state<int64_t>("right");
  }
  void process1(const Left& l, KeyedContext<std::string, std::string>& c) {
    left.update(l.value);
    c.register_processing_timer(c.processing_time() + 10);
  }
  void process2(const Right& r, KeyedContext<std::string, std::string>& c) {
    right.update(r.value);
  }
  void on_timer(Timestamp ts, TimeDomain domain, KeyedContext<std::string, std::string>& c) {
    ASSERT_EQ(domain, TimeDomain::kProcessingTime);
    c.emit(c.key() + ":" + std::to_string(left.value().value_or(-1)) + "+" +
           std::to_string(right.value().value_or(-1)) + "@" + std::to_string(ts));
  }
};

TEST(KeyedCoProcess, ProcessingTimersSeeStateOfBothInputs) {
  using Op = KeyedCoProcessOperator<Left, Right, std::string, std::string, decltype(left_key),
                                    decltype(right_key), PairUp>;
  TwoInputHarness<Left, Right, std::string> h(std::make_unique<Op>(left_key, right_key, PairUp{}),
                                              HarnessSetup{.start = 100});
  h.push1(Left{"a", 1}, 0);
  h.push2(Right{"a", 2}, 0);
  h.push2(Right{"b", 3}, 0);
  h.advance_processing_time(9);
  EXPECT_TRUE(h.output.take().empty());
  h.advance_processing_time(1);
  EXPECT_EQ(h.output.take(), std::vector<std::string>{"a:1+2@110"});
}

TEST(KeyedCoProcess, RescaleFromTwoToThreeKeepsStateAndTimers) {
  std::vector<Step> steps = make_steps(22);
  auto [expected, rescaled] = run_rescaled<BucketRow>(steps, steps.size() / 2, [] {
    return std::make_unique<CoProcess>(left_key, right_key, BucketCounts{});
  });
  ASSERT_GT(expected.size(), 200u);
  EXPECT_EQ(rescaled, expected);
}

// ---------------------------------------------------------------------------
// Interval join.

// key, left value, left time, right value, right time
using JoinRow = std::tuple<std::string, int64_t, Timestamp, int64_t, Timestamp>;

struct JoinPair {
  JoinRow operator()(const Left& l, const Right& r) const {
    return JoinRow{l.key, l.value, 0, r.value, 0};
  }
};

// The join's rows with the record times filled in from the emitted records'
// values (times are not in the records; the reference knows them by value).
std::vector<JoinRow> interval_reference(const std::vector<Step>& steps, DurationMs lower,
                                        DurationMs upper) {
  std::vector<Step> kept = on_time(steps);
  std::vector<JoinRow> out;
  for (const Step& l : kept) {
    if (l.kind != Step::kLeft) continue;
    for (const Step& r : kept) {
      if (r.kind != Step::kRight || r.key != l.key) continue;
      if (r.time >= l.time + lower && r.time <= l.time + upper) {
        out.emplace_back(l.key, l.value, l.time, r.value, r.time);
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

using IntervalOp = IntervalJoinOperator<Left, Right, JoinRow, std::string, decltype(left_key),
                                        decltype(right_key), JoinPair>;

// Fills each row's times from the steps (values are unique per step) and
// checks the emitted timestamp is the later one.
std::vector<JoinRow> with_times(const std::vector<Record<JoinRow>>& records,
                                const std::vector<Step>& steps) {
  std::map<int64_t, Timestamp> time_of;
  for (const Step& s : steps) time_of[s.value] = s.time;
  std::vector<JoinRow> out;
  for (const Record<JoinRow>& r : records) {
    JoinRow row = r.value;
    std::get<2>(row) = time_of.at(std::get<1>(row));
    std::get<4>(row) = time_of.at(std::get<3>(row));
    EXPECT_EQ(r.timestamp, std::max(std::get<2>(row), std::get<4>(row)));
    out.push_back(row);
  }
  std::sort(out.begin(), out.end());
  return out;
}

class IntervalJoinTest : public ::testing::TestWithParam<StateBackendKind> {
 protected:
  StateBackendConfig state() {
    StateBackendConfig config;
    config.kind = GetParam();
    config.rocksdb.directory = dir_.file("rocks-" + std::to_string(++instances_));
    // Portable snapshots: the harness stores no instance files.
    config.incremental_checkpoints = false;
    return config;
  }

 private:
  TempDir dir_;
  int instances_ = 0;
};

TEST_P(IntervalJoinTest, PairsOnTimeRecordsWithinTheBoundsAndDropsLateOnes) {
  std::vector<Step> steps = make_steps(31);
  TwoInputHarness<Left, Right, JoinRow> h(
      std::make_unique<IntervalOp>(left_key, right_key, -5, 10, JoinPair{}),
      HarnessSetup{0, 1, 0, nullptr, state()});
  for (const Step& s : steps) feed(h, s);
  std::vector<JoinRow> expected = interval_reference(steps, -5, 10);
  ASSERT_GT(expected.size(), 300u);
  EXPECT_EQ(with_times(h.output.records, steps), expected);
  size_t late = 0;
  for (const Step& s : steps) late += s.kind != Step::kWatermark;
  late -= on_time(steps).size();
  ASSERT_GT(late, 100u);
  EXPECT_EQ(h.metrics.late_dropped.value(), late);
  // The final watermark dropped every buffered record.
  OperatorSnapshot snapshot = h.snapshot(1);
  for (const StateEntries& state : snapshot.keyed->states) {
    EXPECT_TRUE(state.entries.empty()) << state.name;
  }
}

TEST_P(IntervalJoinTest, BoundsBothAfterTheLeftRecord) {
  std::vector<Step> steps = make_steps(32);
  TwoInputHarness<Left, Right, JoinRow> h(
      std::make_unique<IntervalOp>(left_key, right_key, 3, 12, JoinPair{}),
      HarnessSetup{0, 1, 0, nullptr, state()});
  for (const Step& s : steps) feed(h, s);
  std::vector<JoinRow> expected = interval_reference(steps, 3, 12);
  ASSERT_GT(expected.size(), 200u);
  EXPECT_EQ(with_times(h.output.records, steps), expected);
}

TEST_P(IntervalJoinTest, RescaleFromTwoToThree) {
  std::vector<Step> steps = make_steps(33);
  StateBackendConfig config = state();
  auto make = [] { return std::make_unique<IntervalOp>(left_key, right_key, -8, 4, JoinPair{}); };
  std::vector<JoinRow> expected_rows;
  auto [expected, rescaled] = run_rescaled<JoinRow>(steps, steps.size() / 2, make, config);
  ASSERT_GT(expected.size(), 300u);
  EXPECT_EQ(rescaled, expected);
}

INSTANTIATE_TEST_SUITE_P(Backends, IntervalJoinTest,
                         ::testing::Values(StateBackendKind::kMemory, StateBackendKind::kRocksDb),
                         [](const auto& info) {
                           return info.param == StateBackendKind::kMemory ? "memory" : "rocksdb";
                         });

// ---------------------------------------------------------------------------
// Broadcast state. Right records are rules: key -> threshold, versioned by
// time. The keyed function holds each left record until the watermark
// passes it, then emits it with the threshold in force at its time.

using Versions = std::vector<std::pair<Timestamp, int64_t>>;
using RuleRow = std::tuple<std::string, int64_t, int64_t>;  // key, value, threshold (-1: none)

int64_t threshold_at(const Versions* versions, Timestamp ts) {
  int64_t threshold = -1;
  Timestamp best = kMinTimestamp;
  if (versions == nullptr) return threshold;
  for (const auto& [t, v] : *versions) {
    if (t <= ts && t >= best) {
      best = t;
      threshold = v;
    }
  }
  return threshold;
}

struct ApplyRules {
  MapState<Timestamp, std::vector<int64_t>> held;
  void open(KeyedStateBackend& state) {
    held = state.map_state<Timestamp, std::vector<int64_t>>("held");
  }
  void process(const Left& l,
               KeyedBroadcastContext<std::string, std::string, Versions, RuleRow>& c) {
    if (c.timestamp() <= c.watermark()) return;
    std::vector<int64_t> values = held.get(c.timestamp()).value_or(std::vector<int64_t>{});
    values.push_back(l.value);
    held.put(c.timestamp(), values);
    c.register_event_timer(c.timestamp());
  }
  void process_broadcast(const Right& r, BroadcastContext<std::string, Versions, RuleRow>& c) {
    Versions versions = c.state().contains(r.key) ? *c.state().get(r.key) : Versions{};
    versions.emplace_back(c.timestamp(), r.value);
    c.state().put(r.key, versions);
  }
  void on_timer(Timestamp ts, TimeDomain,
                KeyedBroadcastContext<std::string, std::string, Versions, RuleRow>& c) {
    for (int64_t v : held.get(ts).value_or(std::vector<int64_t>{})) {
      c.emit(RuleRow{c.key(), v, threshold_at(c.broadcast_state().get(c.key()), ts)});
    }
    held.remove(ts);
  }
};

using KeyedRules =
    KeyedBroadcastProcessOperator<Left, Right, RuleRow, std::string, decltype(left_key),
                                  std::string, Versions, ApplyRules>;

// Simulates the steps in order: rules as they come, records held until the
// watermark passes them.
std::vector<RuleRow> rules_reference(const std::vector<Step>& steps) {
  std::map<std::string, Versions> rules;
  std::multimap<Timestamp, Step> held;
  std::vector<RuleRow> out;
  Timestamp wm = kMinTimestamp;
  for (const Step& s : steps) {
    if (s.kind == Step::kRight) {
      rules[s.key].emplace_back(s.time, s.value);
    } else if (s.kind == Step::kLeft) {
      if (s.time > wm) held.emplace(s.time, s);
    } else {
      wm = s.time;
      while (!held.empty() && held.begin()->first <= wm) {
        const Step& l = held.begin()->second;
        auto it = rules.find(l.key);
        out.emplace_back(l.key, l.value,
                         threshold_at(it == rules.end() ? nullptr : &it->second, l.time));
        held.erase(held.begin());
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Rules go to every subtask; the records by key.
std::vector<Step> broadcast_rules(std::vector<Step> steps, int every) {
  int n = 0;
  for (Step& s : steps) {
    if (s.kind == Step::kRight && ++n % every != 0) s.kind = Step::kLeft;
  }
  return steps;
}

TEST(BroadcastState, KeyedRecordsSeeTheRulesInForceAtTheirTime) {
  std::vector<Step> steps = broadcast_rules(make_steps(41), 6);
  TwoInputHarness<Left, Right, RuleRow> h(std::make_unique<KeyedRules>(left_key, ApplyRules{}));
  for (const Step& s : steps) feed(h, s);
  std::vector<RuleRow> rows = h.output.take();
  std::sort(rows.begin(), rows.end());
  std::vector<RuleRow> expected = rules_reference(steps);
  ASSERT_GT(expected.size(), 1000u);
  size_t with_rule = 0;
  for (const RuleRow& r : expected) with_rule += std::get<2>(r) >= 0;
  ASSERT_GT(with_rule, 500u);
  EXPECT_EQ(rows, expected);
}

// Like run_rescaled, but rules (right) go to every subtask.
std::pair<std::vector<RuleRow>, std::vector<RuleRow>> run_rules_rescaled(
    const std::vector<Step>& steps, size_t cut, bool unaligned) {
  using Harness = TwoInputHarness<Left, Right, RuleRow>;
  auto make = [] { return std::make_unique<KeyedRules>(left_key, ApplyRules{}); };
  std::vector<RuleRow> rescaled;
  OperatorRestore restore;
  auto run_on = [&](int parallelism, size_t from, size_t to, const OperatorRestore* from_state,
                    bool snapshot) {
    std::vector<std::unique_ptr<Harness>> subtasks;
    for (int p = 0; p < parallelism; ++p) {
      HarnessSetup setup{p, parallelism, 0, from_state, {}};
      setup.unaligned = unaligned;
      subtasks.push_back(std::make_unique<Harness>(make(), setup));
    }
    for (size_t i = from; i < to; ++i) {
      if (steps[i].kind == Step::kLeft) {
        feed(*subtasks[static_cast<size_t>(subtask_of(steps[i].key, parallelism))], steps[i]);
      } else {
        for (auto& h : subtasks) feed(*h, steps[i]);
      }
    }
    for (auto& h : subtasks) {
      for (RuleRow& o : h->output.take()) rescaled.push_back(std::move(o));
      if (!snapshot) continue;
      OperatorSnapshot s = h->snapshot(1);
      restore.keyed.push_back(*s.keyed);
      restore.operator_states.push_back(s.operator_state);
    }
  };
  run_on(2, 0, cut, nullptr, true);
  run_on(3, cut, steps.size(), &restore, false);
  std::sort(rescaled.begin(), rescaled.end());
  return {rules_reference(steps), rescaled};
}

TEST(BroadcastState, StoredOnceAndGivenToEverySubtaskOnRescale) {
  std::vector<Step> steps = broadcast_rules(make_steps(42), 5);
  auto [expected, rescaled] = run_rules_rescaled(steps, steps.size() / 2, false);
  ASSERT_GT(expected.size(), 1000u);
  EXPECT_EQ(rescaled, expected);
}

TEST(BroadcastState, UnalignedCheckpointsStoreEveryCopy) {
  std::vector<Step> steps = broadcast_rules(make_steps(43), 5);
  auto [expected, rescaled] = run_rules_rescaled(steps, steps.size() / 3, true);
  EXPECT_EQ(rescaled, expected);
}

TEST(BroadcastState, OnlySubtaskZeroWritesItsCopyWhenAligned) {
  BroadcastState<std::string, int64_t> state;
  state.put("a", 1);
  JobMetrics metrics;
  ManualClock clock;
  testing::ClockOnlyTimeService time(clock);
  OperatorInfo zero;
  OperatorInfo one;
  one.subtask = 1;
  EXPECT_FALSE(state.snapshot(OperatorContext{zero, time, metrics}).empty());
  EXPECT_TRUE(state.snapshot(OperatorContext{one, time, metrics}).empty());
  OperatorContext unaligned{one, time, metrics};
  unaligned.unaligned = true;
  EXPECT_FALSE(state.snapshot(unaligned).empty());

  BroadcastState<std::string, int64_t> restored;
  restored.restore({"", state.snapshot(OperatorContext{zero, time, metrics}), ""}, 2);
  ASSERT_NE(restored.get("a"), nullptr);
  EXPECT_EQ(*restored.get("a"), 1);
}

// The non-keyed variant: each record is emitted with its key's current rule.
struct TagWithRule {
  void process(const Left& l, ReadOnlyBroadcastContext<std::string, int64_t, RuleRow>& c) {
    const int64_t* rule = c.state().get(l.key);
    c.emit(RuleRow{l.key, l.value, rule ? *rule : -1});
  }
  void process_broadcast(const Right& r, BroadcastContext<std::string, int64_t, RuleRow>& c) {
    c.state().put(r.key, r.value);
  }
};

TEST(BroadcastState, NonKeyedOperatorReadsTheLatestRules) {
  using Op = BroadcastProcessOperator<Left, Right, RuleRow, std::string, int64_t, TagWithRule>;
  TwoInputHarness<Left, Right, RuleRow> h(std::make_unique<Op>(TagWithRule{}));
  h.push1(Left{"a", 1}, 0);
  h.push2(Right{"a", 7}, 0);
  h.push1(Left{"a", 2}, 0);
  h.push1(Left{"b", 3}, 0);
  EXPECT_EQ(h.output.take(), (std::vector<RuleRow>{{"a", 1, -1}, {"a", 2, 7}, {"b", 3, -1}}));
  OperatorSnapshot snapshot = h.snapshot(1);
  OperatorRestore restore;
  restore.operator_states = {snapshot.operator_state};
  TwoInputHarness<Left, Right, RuleRow> restored(std::make_unique<Op>(TagWithRule{}),
                                                 HarnessSetup{1, 2, 0, &restore, {}});
  restored.push1(Left{"a", 4}, 0);
  EXPECT_EQ(restored.output.take(), (std::vector<RuleRow>{{"a", 4, 7}}));
}

}  // namespace
}  // namespace sluice
