// Operator tests with a manual clock: time windows (out-of-order input, late
// records, allowed-lateness re-firing, sliding, session merging, processing
// time), count windows, keyed process functions with timers, and the source
// operator's idle-split handling.
#include <random>
#include <tuple>

#include <gtest/gtest.h>

#include "operators/keyed_process.h"
#include "operators/sliced_window_operator.h"
#include "operators/window_contents.h"
#include "operators/window_operator.h"
#include "runtime/core/hash.h"
#include "runtime/network/channel.h"
#include "runtime/task/source_operator.h"
#include "tests/operator_harness.h"
#include "tests/process_runner.h"

namespace sluice {
namespace {

using testing::CollectingDownstream;
using testing::HarnessSetup;
using testing::OperatorHarness;

struct Event {
  std::string key;
  int64_t value = 0;
  SLUICE_FIELDS(key, value)
};

// window_start, window_end, key, count, sum
using Row = std::tuple<Timestamp, Timestamp, std::string, int64_t, int64_t>;

struct CountSum {
  std::pair<int64_t, int64_t> create() const { return {0, 0}; }
  void add(std::pair<int64_t, int64_t>& acc, const Event& e) const {
    ++acc.first;
    acc.second += e.value;
  }
  std::pair<int64_t, int64_t> result(const std::pair<int64_t, int64_t>& acc) const { return acc; }
  void merge(std::pair<int64_t, int64_t>& into, const std::pair<int64_t, int64_t>& from) const {
    into.first += from.first;
    into.second += from.second;
  }
};

auto key_of = [](const Event& e) { return e.key; };
auto to_row = [](const std::string& key, const TimeWindow& w, std::pair<int64_t, int64_t>&& r) {
  return Row{w.start, w.end, key, r.first, r.second};
};

struct FireRow {
  void operator()(const std::string& key, const TimeWindow& w,
                  const std::pair<int64_t, int64_t>& acc, Emitter<Row>& out) const {
    out.emit(to_row(key, w, std::pair<int64_t, int64_t>(acc)));
  }
};

template <class Assigner>
class WindowHarness {
 public:
  using Fire = FireRow;
  using Op = WindowOperator<Event, Row, std::string, decltype(key_of), Assigner,
                            AccumulatorContents<Event, CountSum>, Fire>;

  explicit WindowHarness(Assigner assigner, DurationMs lateness = 0, bool late_output = true)
      : harness(std::make_unique<Op>(key_of, assigner,
                                     AccumulatorContents<Event, CountSum>(CountSum{}), Fire{},
                                     WindowOptions{lateness}, late_output ? &late : nullptr)) {}

  void push(const std::string& key, int64_t value, Timestamp ts) {
    harness.push(Event{key, value}, ts);
  }
  std::vector<Row> rows() { return harness.output.take(); }
  std::vector<std::pair<std::string, Timestamp>> late_records() {
    std::vector<std::pair<std::string, Timestamp>> out;
    for (auto& r : late.records) out.emplace_back(r.value.key, r.timestamp);
    late.records.clear();
    return out;
  }

  CollectingDownstream<Event> late;
  OperatorHarness<Event, Row> harness;
};

TEST(TumblingWindows, OutOfOrderInputFiresEachWindowOnceAtTheWatermark) {
  WindowHarness<TumblingWindows> w(tumbling(10));
  w.push("a", 1, 3);
  w.push("b", 10, 12);
  w.push("a", 2, 1);  // out of order, same window
  w.push("a", 4, 15);
  w.push("a", 8, 9);  // out of order, back into [0, 10)
  EXPECT_TRUE(w.rows().empty());
  w.harness.watermark(8);
  EXPECT_TRUE(w.rows().empty());  // [0, 10) ends at 9
  w.harness.watermark(9);
  EXPECT_EQ(w.rows(), (std::vector<Row>{{0, 10, "a", 3, 11}}));
  EXPECT_EQ(w.harness.output.watermarks, (std::vector<Timestamp>{8, 9}));
  w.harness.watermark(100);
  auto rows = w.rows();
  std::sort(rows.begin(), rows.end());
  EXPECT_EQ(rows, (std::vector<Row>{{10, 20, "a", 1, 4}, {10, 20, "b", 1, 10}}));
  w.harness.watermark(200);
  EXPECT_TRUE(w.rows().empty());  // fired once, then cleared
}

TEST(TumblingWindows, OutputRecordsCarryTheWindowsMaxTimestamp) {
  WindowHarness<TumblingWindows> w(tumbling(10));
  w.push("a", 1, 3);
  w.harness.watermark(50);
  ASSERT_EQ(w.harness.output.records.size(), 1u);
  EXPECT_EQ(w.harness.output.records[0].timestamp, 9);
}

TEST(TumblingWindows, LateRecordsGoToTheSideOutput) {
  WindowHarness<TumblingWindows> w(tumbling(10));
  w.push("a", 1, 5);
  w.harness.watermark(9);
  EXPECT_EQ(w.rows().size(), 1u);
  w.push("a", 7, 2);   // its window fired: late
  w.push("a", 1, 10);  // next window: fine
  EXPECT_EQ(w.late_records(), (std::vector<std::pair<std::string, Timestamp>>{{"a", 2}}));
  w.harness.watermark(19);
  EXPECT_EQ(w.rows(), (std::vector<Row>{{10, 20, "a", 1, 1}}));
}

TEST(TumblingWindows, LateRecordsWithoutSideOutputAreCounted) {
  WindowHarness<TumblingWindows> w(tumbling(10), 0, /*late_output=*/false);
  w.harness.watermark(100);
  w.push("a", 1, 5);
  EXPECT_TRUE(w.rows().empty());
  EXPECT_EQ(w.harness.metrics.late_dropped.value(), 1u);
}

TEST(AllowedLateness, LateRecordWithinLatenessFiresTheWindowAgain) {
  WindowHarness<TumblingWindows> w(tumbling(10), /*lateness=*/20);
  w.push("a", 1, 5);
  w.harness.watermark(9);
  EXPECT_EQ(w.rows(), (std::vector<Row>{{0, 10, "a", 1, 1}}));
  w.push("a", 2, 3);  // late but within lateness: fires again with the update
  EXPECT_EQ(w.rows(), (std::vector<Row>{{0, 10, "a", 2, 3}}));
  w.harness.watermark(28);
  w.push("a", 4, 1);  // still within: 9 + 20 = 29 > 28
  EXPECT_EQ(w.rows(), (std::vector<Row>{{0, 10, "a", 3, 7}}));
  EXPECT_TRUE(w.late_records().empty());
  w.harness.watermark(29);  // cleanup time reached: state is gone
  w.push("a", 8, 2);
  EXPECT_TRUE(w.rows().empty());
  EXPECT_EQ(w.late_records(), (std::vector<std::pair<std::string, Timestamp>>{{"a", 2}}));
}

TEST(SlidingWindows, EachRecordCountsInEveryOverlappingWindow) {
  WindowHarness<SlidingWindows> w(sliding(10, 5));
  w.push("a", 1, 7);    // windows [0,10) and [5,15)
  w.push("a", 10, 12);  // windows [5,15) and [10,20)
  w.harness.watermark(100);
  auto rows = w.rows();
  std::sort(rows.begin(), rows.end());
  EXPECT_EQ(rows,
            (std::vector<Row>{{0, 10, "a", 1, 1}, {5, 15, "a", 2, 11}, {10, 20, "a", 1, 10}}));
}

TEST(SlidingWindows, NegativeTimestampsAlignToTheEpoch) {
  WindowHarness<SlidingWindows> w(sliding(10, 5));
  w.push("a", 1, -3);  // windows [-10,0) and [-5,5)
  w.harness.watermark(100);
  auto rows = w.rows();
  std::sort(rows.begin(), rows.end());
  EXPECT_EQ(rows, (std::vector<Row>{{-10, 0, "a", 1, 1}, {-5, 5, "a", 1, 1}}));
}

// The sliced operator must behave exactly like the plain one: same rows,
// same late records, after every record and watermark of a random run with
// disorder, allowed lateness and records beyond it. With RocksDB state (and
// a write cache of four entries) the sliced operator knows new slices by
// their timers instead of a lookup; the plain one keeps memory state.
class SlicedSlidingWindows : public ::testing::TestWithParam<StateBackendKind> {};

TEST_P(SlicedSlidingWindows, MatchThePlainOperatorStepByStep) {
  testing::TempDir dir;
  for (DurationMs lateness : {DurationMs{0}, DurationMs{7}, DurationMs{25}}) {
    SlidingWindows windows = sliding(20, 5);
    using Sliced =
        SlicedWindowOperator<Event, Row, std::string, decltype(key_of), CountSum, FireRow>;
    ASSERT_TRUE(Sliced::applies(windows));
    CollectingDownstream<Event> sliced_late;
    HarnessSetup setup;
    setup.state.kind = GetParam();
    setup.state.rocksdb.directory = dir.file("lateness-" + std::to_string(lateness));
    setup.state.rocksdb.write_cache_entries = 4;
    OperatorHarness<Event, Row> sliced(
        std::make_unique<Sliced>(key_of, windows, CountSum{}, FireRow{}, WindowOptions{lateness},
                                 &sliced_late),
        setup);
    WindowHarness<SlidingWindows> plain(windows, lateness);

    std::mt19937 rng(static_cast<unsigned>(lateness) + 1);
    Timestamp wm = 0;
    for (int step = 0; step < 3000; ++step) {
      if (rng() % 10 == 0) {
        wm += static_cast<Timestamp>(rng() % 6);
        sliced.watermark(wm);
        plain.harness.watermark(wm);
      } else {
        Timestamp ts = wm + static_cast<Timestamp>(rng() % 50) - 45;  // some are late
        Event e{"k" + std::to_string(rng() % 3), static_cast<int64_t>(rng() % 100)};
        sliced.push(e, ts);
        plain.harness.push(e, ts);
      }
      auto rows = sliced.output.take();
      auto expected = plain.rows();
      std::sort(rows.begin(), rows.end());
      std::sort(expected.begin(), expected.end());
      ASSERT_EQ(rows, expected) << "lateness " << lateness << ", step " << step;
      ASSERT_EQ(sliced_late.records.size(), plain.late.records.size()) << "step " << step;
    }
    sliced.watermark(kMaxTimestamp);
    plain.harness.watermark(kMaxTimestamp);
    auto rows = sliced.output.take();
    auto expected = plain.rows();
    std::sort(rows.begin(), rows.end());
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(rows, expected);
    EXPECT_GT(plain.late.records.size(), 10u) << "the run should include late records";
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, SlicedSlidingWindows,
                         ::testing::Values(StateBackendKind::kMemory, StateBackendKind::kRocksDb),
                         [](const auto& info) {
                           return info.param == StateBackendKind::kMemory ? "memory" : "rocksdb";
                         });

TEST(SessionWindows, OverlappingSessionsMerge) {
  WindowHarness<SessionWindows> w(session(10));
  w.push("a", 1, 0);    // [0,10)
  w.push("a", 2, 30);   // [30,40)
  w.push("a", 4, 15);   // [15,25), apart from both
  w.push("b", 100, 5);  // another key
  w.harness.watermark(8);
  EXPECT_EQ(w.rows(), (std::vector<Row>{}));  // nothing ends before 9
  w.push("a", 8, 10);                         // [10,20) bridges [0,10) and [15,25) -> [0,25)
  w.push("a", 16, 22);                        // [22,32) bridges [0,25) and [30,40) -> [0,40)
  w.harness.watermark(38);
  EXPECT_EQ(w.rows(), (std::vector<Row>{{5, 15, "b", 1, 100}}));
  w.harness.watermark(39);
  EXPECT_EQ(w.rows(), (std::vector<Row>{{0, 40, "a", 5, 31}}));
  w.harness.watermark(1000);
  EXPECT_TRUE(w.rows().empty());
}

TEST(SessionWindows, LateRecordWithinLatenessExtendsAFiredSession) {
  WindowHarness<SessionWindows> w(session(10), /*lateness=*/50);
  w.push("a", 1, 0);
  w.harness.watermark(20);
  EXPECT_EQ(w.rows(), (std::vector<Row>{{0, 10, "a", 1, 1}}));
  w.push("a", 2, 5);  // merges into the fired session [0, 15): fires at once
  EXPECT_EQ(w.rows(), (std::vector<Row>{{0, 15, "a", 2, 3}}));
  w.harness.watermark(100);
  EXPECT_TRUE(w.rows().empty());
  w.push("a", 3, 6);
  EXPECT_EQ(w.late_records().size(), 1u);
}

TEST(ProcessingTimeWindows, FireWhenTheProcessingClockPassesTheirEnd) {
  WindowHarness<TumblingWindows> w(tumbling(1000, TimeDomain::kProcessingTime));
  w.harness.advance_processing_time(100);
  w.push("a", 1, /*event time ignored*/ 0);
  w.push("a", 2, 999999);
  w.harness.advance_processing_time(800);  // now 900
  EXPECT_TRUE(w.rows().empty());
  w.harness.advance_processing_time(99);  // now 999: [0, 1000) is due
  EXPECT_EQ(w.rows(), (std::vector<Row>{{0, 1000, "a", 2, 3}}));
  w.harness.advance_processing_time(1);  // now 1000
  w.push("a", 5, 0);
  w.harness.finish();  // end of input fires pending processing-time windows
  EXPECT_EQ(w.rows(), (std::vector<Row>{{1000, 2000, "a", 1, 5}}));
}

TEST(CountWindows, TumblingAndSliding) {
  auto fire = [](const std::string& key, const std::vector<Event>& events, Emitter<int64_t>& out) {
    int64_t sum = 0;
    for (const Event& e : events) sum += e.value;
    out.emit(sum);
  };
  using Op = CountWindowOperator<Event, int64_t, std::string, decltype(key_of), decltype(fire)>;
  OperatorHarness<Event, int64_t> tumbling_counts(std::make_unique<Op>(key_of, 3, 3, fire));
  OperatorHarness<Event, int64_t> sliding_counts(std::make_unique<Op>(key_of, 3, 1, fire));
  for (int64_t v = 1; v <= 7; ++v) {
    for (auto* h : {&tumbling_counts, &sliding_counts}) {
      h->push(Event{"k", v}, v);
      h->push(Event{"other", 100}, v);
    }
  }
  std::vector<int64_t> tumbling_out = tumbling_counts.output.take();
  std::erase(tumbling_out, 300);
  EXPECT_EQ(tumbling_out, (std::vector<int64_t>{6, 15}));
  std::vector<int64_t> sliding_out = sliding_counts.output.take();
  std::erase_if(sliding_out, [](int64_t v) { return v >= 100; });
  EXPECT_EQ(sliding_out, (std::vector<int64_t>{1, 3, 6, 9, 12, 15, 18}));
}

// Emits the per-key count one event-time unit after each key's last record.
struct CountAfterQuiet {
  ValueState<int64_t> count;
  ValueState<Timestamp> timer;
  void open(KeyedStateBackend& state) {
    count = state.value_state<int64_t>("count");
    timer = state.value_state<Timestamp>("timer");
  }
  void process(const Event& e, KeyedContext<std::string, std::string>& ctx) {
    count.update(count.value().value_or(0) + 1);
    if (auto old = timer.value()) ctx.delete_event_timer(*old);
    timer.update(ctx.timestamp() + 1);
    ctx.register_event_timer(ctx.timestamp() + 1);
  }
  void on_timer(Timestamp ts, TimeDomain domain, KeyedContext<std::string, std::string>& ctx) {
    ctx.emit(ctx.key() + "=" + std::to_string(*count.value()) + "@" + std::to_string(ts));
    count.clear();
    timer.clear();
  }
};

TEST(KeyedProcess, StateAndEventTimeTimersPerKey) {
  using Op =
      KeyedProcessOperator<Event, std::string, std::string, decltype(key_of), CountAfterQuiet>;
  OperatorHarness<Event, std::string> h(std::make_unique<Op>(key_of, CountAfterQuiet{}));
  h.push(Event{"a", 0}, 10);
  h.push(Event{"b", 0}, 11);
  h.push(Event{"a", 0}, 12);  // moves a's timer from 11 to 13
  h.watermark(11);
  EXPECT_TRUE(h.output.take().empty());
  h.watermark(12);
  EXPECT_EQ(h.output.take(), (std::vector<std::string>{"b=1@12"}));
  h.watermark(20);
  EXPECT_EQ(h.output.take(), (std::vector<std::string>{"a=2@13"}));
  ASSERT_EQ(h.output.watermarks.size(), 3u);
}

// ---------------------------------------------------------------------------
// Snapshot and restore: half a stream on one subtask, a snapshot, the rest
// on two restored subtasks (records routed by key group, as the hash
// partitioner routes them); together they must emit exactly what one
// uninterrupted subtask emits. Windows with pending timers, allowed
// lateness, sessions and keyed process timers all cross the snapshot.

struct Step {
  bool is_watermark;
  Event event;
  Timestamp time;
};

std::vector<Step> make_steps(unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<Step> steps;
  Timestamp wm = 0;
  for (int i = 0; i < 2000; ++i) {
    if (rng() % 8 == 0) {
      wm += static_cast<Timestamp>(rng() % 7);
      steps.push_back(Step{true, {}, wm});
    } else {
      Event e{"k" + std::to_string(rng() % 12), static_cast<int64_t>(rng() % 50)};
      steps.push_back(Step{false, e, wm + static_cast<Timestamp>(rng() % 30) - 12});
    }
  }
  steps.push_back(Step{true, {}, kMaxTimestamp});
  return steps;
}

int subtask_of(const std::string& key, int parallelism) {
  KeyGroup g = key_group_for_hash(hash_bytes(encode_to_string(key)), kDefaultMaxParallelism);
  return subtask_for_key_group(g, kDefaultMaxParallelism, parallelism);
}

template <class Out>
void feed(OperatorHarness<Event, Out>& h, const Step& step) {
  if (step.is_watermark) {
    h.watermark(step.time);
  } else {
    h.push(step.event, step.time);
  }
}

// Runs `steps` once on one subtask, and once split at `cut` with a
// snapshot and a restore into `parallelism` subtasks; returns both outputs.
template <class Out, class MakeOp>
std::pair<std::vector<Out>, std::vector<Out>> run_with_restore(const std::vector<Step>& steps,
                                                               size_t cut, int parallelism,
                                                               MakeOp make_op) {
  OperatorHarness<Event, Out> whole(make_op());
  for (const Step& step : steps) feed(whole, step);

  OperatorHarness<Event, Out> before(make_op());
  for (size_t i = 0; i < cut; ++i) feed(before, steps[i]);
  std::vector<Out> restored = before.output.take();
  OperatorSnapshot snapshot = before.snapshot(1);
  OperatorRestore restore;
  restore.keyed.push_back(decode_versioned<KeyedSnapshot>(
      KeyedSnapshot::kFormat, encode_versioned(KeyedSnapshot::kFormat, *snapshot.keyed)));
  restore.operator_states.push_back(snapshot.operator_state);

  std::vector<std::unique_ptr<OperatorHarness<Event, Out>>> after;
  for (int s = 0; s < parallelism; ++s) {
    after.push_back(std::make_unique<OperatorHarness<Event, Out>>(
        make_op(), HarnessSetup{s, parallelism, 0, &restore, {}}));
  }
  for (size_t i = cut; i < steps.size(); ++i) {
    if (steps[i].is_watermark) {
      for (auto& h : after) h->watermark(steps[i].time);
    } else {
      after[static_cast<size_t>(subtask_of(steps[i].event.key, parallelism))]->push(steps[i].event,
                                                                                    steps[i].time);
    }
  }
  for (auto& h : after) {
    for (Out& row : h->output.take()) restored.push_back(std::move(row));
  }
  std::vector<Out> expected = whole.output.take();
  std::sort(expected.begin(), expected.end());
  std::sort(restored.begin(), restored.end());
  return {expected, restored};
}

template <class Assigner>
auto window_maker(Assigner assigner, DurationMs lateness) {
  return [=] {
    using Op = WindowOperator<Event, Row, std::string, decltype(key_of), Assigner,
                              AccumulatorContents<Event, CountSum>, FireRow>;
    return std::make_unique<Op>(key_of, assigner, AccumulatorContents<Event, CountSum>(CountSum{}),
                                FireRow{}, WindowOptions{lateness}, nullptr);
  };
}

TEST(SnapshotRestore, TumblingWindowsWithLatenessRescaleFromOneToTwo) {
  std::vector<Step> steps = make_steps(11);
  auto [expected, restored] =
      run_with_restore<Row>(steps, steps.size() / 2, 2, window_maker(tumbling(10), 6));
  ASSERT_GT(expected.size(), 100u);
  EXPECT_EQ(restored, expected);
}

TEST(SnapshotRestore, SessionWindowsRescaleFromOneToThree) {
  std::vector<Step> steps = make_steps(12);
  auto [expected, restored] =
      run_with_restore<Row>(steps, steps.size() / 3, 3, window_maker(session(4), 3));
  ASSERT_GT(expected.size(), 50u);
  EXPECT_EQ(restored, expected);
}

TEST(SnapshotRestore, SlicedSlidingWindowsKeepTheirSlices) {
  std::vector<Step> steps = make_steps(13);
  auto make = [] {
    using Op = SlicedWindowOperator<Event, Row, std::string, decltype(key_of), CountSum, FireRow>;
    return std::make_unique<Op>(key_of, sliding(20, 5), CountSum{}, FireRow{}, WindowOptions{4},
                                nullptr);
  };
  auto [expected, restored] = run_with_restore<Row>(steps, steps.size() / 2, 2, make);
  ASSERT_GT(expected.size(), 100u);
  EXPECT_EQ(restored, expected);
}

TEST(SnapshotRestore, KeyedProcessStateAndTimers) {
  std::vector<Step> steps = make_steps(14);
  auto make = [] {
    using Op =
        KeyedProcessOperator<Event, std::string, std::string, decltype(key_of), CountAfterQuiet>;
    return std::make_unique<Op>(key_of, CountAfterQuiet{});
  };
  auto [expected, restored] = run_with_restore<std::string>(steps, steps.size() / 2, 2, make);
  ASSERT_GT(expected.size(), 20u);
  EXPECT_EQ(restored, expected);
}

// A reader with two splits: split 0 has data at times it is told, split 1
// never has any.
class TwoSplitReader final : public SourceReader<int64_t> {
 public:
  std::vector<int> splits() const override { return {0, 1}; }
  ReadResult read(Batch<int64_t>& out, size_t, Timestamp now) override {
    if (!pending.empty()) {
      out.push_back({pending.front(), 0});
      pending.erase(pending.begin());
      return {ReadStatus::kRecords, 0, 0};
    }
    return {ReadStatus::kNotYet, 0, now + 1000};
  }
  std::vector<int64_t> pending;
};

TEST(SourceOperator, IdleSplitStopsHoldingBackTheWatermark) {
  auto reader = std::make_unique<TwoSplitReader>();
  TwoSplitReader* script = reader.get();
  auto strategy = bounded_out_of_orderness([](const int64_t& v) { return v; }, 0,
                                           /*idle_timeout=*/500);
  SourceOperator<int64_t, decltype(strategy.timestamp_of)> op(std::move(reader), strategy);
  CollectingDownstream<int64_t> out;
  op.output().set_target(&out);

  ManualClock manual;
  testing::ClockOnlyTimeService time(manual);
  JobMetrics metrics;
  OperatorContext context{op.info(), time, metrics, nullptr, nullptr, false};
  op.open(context);

  script->pending = {100, 200};
  op.poll(time.now());
  op.poll(time.now());
  EXPECT_TRUE(out.watermarks.empty());  // split 1 holds it at -inf
  auto step = op.poll(time.now());
  EXPECT_EQ(step.step, SourceOperatorBase::Step::kWait);
  EXPECT_EQ(step.wait_until, 500);  // the idle deadline comes before the retry
  manual.set(499);
  op.poll(time.now());
  EXPECT_TRUE(out.watermarks.empty());
  manual.set(400 + 100);  // split 1 idle since 0 + 500
  script->pending = {300};
  op.poll(time.now());
  EXPECT_EQ(out.watermarks, (std::vector<Timestamp>{299}));
  manual.set(2000);  // both idle now: the source is idle
  op.poll(time.now());
  EXPECT_TRUE(op.idle());
}

// One split whose records come when the test says, then ends.
class ScriptedSplitReader final : public SourceReader<int64_t> {
 public:
  std::vector<int> splits() const override { return {0}; }
  ReadResult read(Batch<int64_t>& out, size_t, Timestamp now) override {
    if (!pending.empty()) {
      out.push_back({pending.front(), 0});
      pending.erase(pending.begin());
      return {ReadStatus::kRecords, 0, 0};
    }
    if (finished) return {ReadStatus::kFinished};
    return {ReadStatus::kNotYet, 0, now + 1000};
  }
  std::vector<int64_t> pending;
  bool finished = false;
};

// Two sources in one alignment group with a drift of 100 ms: the one ahead
// stops reading, is woken when the other catches up, and runs free once
// the other has ended.
TEST(WatermarkAlignment, TheSourceAheadWaitsUntilTheSlowestCatchesUp) {
  auto identity = [](const int64_t& v) { return v; };
  auto strategy = bounded_out_of_orderness(identity, 0);
  using Op = SourceOperator<int64_t, decltype(identity)>;
  struct Member {
    ScriptedSplitReader* script = nullptr;
    std::unique_ptr<Op> op;
    CollectingDownstream<int64_t> out;
    TaskWakeup wakeup;
  };
  WatermarkAlignmentGroup group(100);
  ManualClock clock;
  testing::ClockOnlyTimeService time(clock);
  JobMetrics metrics;
  Member slow;
  Member fast;
  for (Member* m : {&slow, &fast}) {
    auto reader = std::make_unique<ScriptedSplitReader>();
    m->script = reader.get();
    m->op = std::make_unique<Op>(std::move(reader), strategy);
    m->op->output().set_target(&m->out);
    ASSERT_TRUE(m->op->stamps_event_time());
    m->op->join_alignment(&group, group.add_member([m] { m->wakeup.notify(); }));
    OperatorContext context{m->op->info(), time, metrics, nullptr, nullptr, false};
    m->op->open(context);
  }
  using Step = SourceOperatorBase::Step;

  slow.script->pending = {10};
  fast.script->pending = {500, 600};
  EXPECT_EQ(slow.op->poll(0).step, Step::kProgress);  // watermark 9
  EXPECT_EQ(group.max_allowed(), kMinTimestamp + 100) << "the fast one has not reported yet";
  EXPECT_EQ(fast.op->poll(0).step, Step::kProgress);  // read before it was ahead: 499
  EXPECT_EQ(group.max_allowed(), 109);
  SourceOperatorBase::PollOutcome paused = fast.op->poll(0);
  EXPECT_EQ(paused.step, Step::kWait);
  EXPECT_EQ(paused.wait_until, kMaxTimestamp) << "it waits for its wakeup alone";
  EXPECT_EQ(fast.out.take(), (std::vector<int64_t>{500}));

  slow.script->pending = {300};  // not far enough: 299 + 100 < 499
  EXPECT_FALSE(fast.wakeup.pending());
  slow.op->poll(0);
  EXPECT_TRUE(fast.wakeup.pending()) << "a report that raises the minimum wakes the paused";
  fast.wakeup.wait_for(std::chrono::milliseconds(0));  // takes the signal
  EXPECT_EQ(fast.op->poll(0).step, Step::kWait);
  slow.script->pending = {450};  // 449 + 100 >= 499
  slow.op->poll(0);
  EXPECT_TRUE(fast.wakeup.pending());
  EXPECT_EQ(fast.op->poll(0).step, Step::kProgress);
  EXPECT_EQ(fast.out.take(), (std::vector<int64_t>{600}));

  fast.script->pending = {2000};
  fast.wakeup.wait_for(std::chrono::milliseconds(0));
  EXPECT_EQ(fast.op->poll(0).step, Step::kWait);  // 599 is ahead of 449 + 100
  slow.script->finished = true;
  EXPECT_EQ(slow.op->poll(0).step, Step::kFinished);
  EXPECT_TRUE(fast.wakeup.pending()) << "an ended member holds nothing back";
  EXPECT_EQ(group.max_allowed(), 699) << "the fast one's own 599 + 100";
  EXPECT_EQ(fast.op->poll(0).step, Step::kProgress);
  EXPECT_EQ(fast.out.take(), (std::vector<int64_t>{2000}));
  EXPECT_EQ(group.local_minimum(), 1999) << "alone, it is never ahead of itself";
}

// A member that is idle or ended holds nothing back; the other task
// managers' minimum counts like a member's.
TEST(WatermarkAlignment, IdleMembersAndTheRemoteMinimum) {
  WatermarkAlignmentGroup group(50);
  TaskWakeup a;
  TaskWakeup b;
  size_t first = group.add_member([&a] { a.notify(); });
  size_t second = group.add_member([&b] { b.notify(); });
  group.report(first, 1000);
  group.report(second, 3000);
  EXPECT_EQ(group.max_allowed(), 1050);
  group.report(first, std::nullopt);
  EXPECT_EQ(group.max_allowed(), 3050);
  group.set_remote_minimum(2000);
  EXPECT_EQ(group.max_allowed(), 2050);
  group.pause(second);
  group.set_remote_minimum(std::nullopt);
  EXPECT_TRUE(b.pending()) << "a rising remote minimum wakes the paused too";
  EXPECT_FALSE(a.pending());
  group.report(second, std::nullopt);
  EXPECT_EQ(group.max_allowed(), kMaxTimestamp);
  EXPECT_EQ(group.local_minimum(), std::nullopt);
}

}  // namespace
}  // namespace sluice
