// Unit tests of runtime pieces: the watermark valve, per-split source
// watermarks with idleness, bounded channels, in-flight data, execution
// planning and temporary state directories.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "connectors/collect_sink.h"
#include "runtime/api/topology.h"
#include "runtime/executor/progress_reporter.h"
#include "runtime/graph/execution_plan.h"
#include "runtime/job/state_dir.h"
#include "runtime/network/channel.h"
#include "runtime/network/reader.h"
#include "runtime/time/split_watermarks.h"
#include "runtime/time/watermark_valve.h"
#include "tests/test_support.h"

namespace sluice {
namespace {

TEST(WatermarkValve, TakesMinimumOverInputsAndNeverGoesBack) {
  WatermarkValve valve(2);
  EXPECT_FALSE(valve.on_watermark(0, 10));  // input 1 still at -inf
  EXPECT_EQ(valve.on_watermark(1, 5), 5);
  EXPECT_EQ(valve.on_watermark(1, 20), 10);
  EXPECT_FALSE(valve.on_watermark(1, 8));  // a stale watermark changes nothing
  EXPECT_EQ(valve.on_watermark(0, 30), 20);
}

TEST(WatermarkValve, IdleInputsDoNotHoldBack) {
  WatermarkValve valve(3);
  valve.on_watermark(0, 100);
  valve.on_watermark(1, 50);
  EXPECT_EQ(valve.on_idle(2, true), 50);  // 2 held it at -inf; 1 at 50 holds it now
  EXPECT_EQ(valve.on_idle(1, true), 100);
  EXPECT_FALSE(valve.all_idle());
  EXPECT_FALSE(valve.on_idle(0, true));
  EXPECT_TRUE(valve.all_idle());
  // An input that wakes up behind the output does not move it back.
  EXPECT_FALSE(valve.on_watermark(1, 60));
  EXPECT_FALSE(valve.all_idle());
  EXPECT_EQ(valve.on_watermark(1, 150), 150);
}

TEST(WatermarkValve, EndedInputsCountAsInfinite) {
  WatermarkValve valve(2);
  valve.on_watermark(0, 7);
  EXPECT_EQ(valve.on_end(1), 7);
  EXPECT_EQ(valve.on_end(0), kMaxTimestamp);
}

TEST(SplitWatermarks, BoundedOutOfOrdernessPerSplit) {
  SplitWatermarks w(/*out_of_orderness=*/5, /*idle_timeout=*/0);
  w.add_split(0, 0);
  w.add_split(1, 0);
  EXPECT_EQ(w.watermark(0), kMinTimestamp);
  w.on_records(0, 100, 0);
  EXPECT_EQ(w.watermark(0), kMinTimestamp);  // split 1 has seen nothing
  w.on_records(1, 50, 0);
  EXPECT_EQ(w.watermark(0), 44);
  w.on_records(1, 40, 0);  // out of order: the maximum stays
  EXPECT_EQ(w.watermark(0), 44);
  w.on_split_finished(1);
  EXPECT_EQ(w.watermark(0), 94);
  w.on_split_finished(0);
  EXPECT_EQ(w.watermark(0), kMaxTimestamp);
  EXPECT_TRUE(w.all_finished());
}

// A reader without splits (more source subtasks than Kafka partitions) is
// idle: its watermark must not run ahead to +inf, or records of a partition
// it is assigned later would all be late.
TEST(SplitWatermarks, NoSplitsIsIdleNotTheEnd) {
  SplitWatermarks w(0, 0);
  EXPECT_FALSE(w.watermark(0));
  w.on_records(3, 500, 10);  // a discovered split
  EXPECT_EQ(w.watermark(10), 499);
}

TEST(SplitWatermarks, IdleSplitStopsHoldingTheWatermark) {
  SplitWatermarks w(0, /*idle_timeout=*/1000);
  w.add_split(0, 0);
  w.add_split(1, 0);
  w.on_records(0, 500, 100);
  w.on_records(1, 200, 100);
  EXPECT_EQ(w.watermark(100), 199);
  w.on_records(0, 900, 1050);  // split 1 silent since 100
  EXPECT_EQ(w.watermark(1099), 199);
  EXPECT_EQ(w.next_idle_deadline(), 1100);
  EXPECT_EQ(w.watermark(1100), 899);  // split 1 idle now
  EXPECT_FALSE(w.watermark(2050));    // both idle: the source is idle
  w.on_records(1, 300, 2100);         // split 1 back, behind: watermark 299
  EXPECT_EQ(w.watermark(2100), 299);
}

Element<int> batch_of(int v) {
  Element<int> e;
  e.batch.push_back(Record<int>{v, 0});
  return e;
}

Element<int> control(ElementKind kind) {
  Element<int> e;
  e.kind = kind;
  return e;
}

TEST(Channel, HasRoomBelowCapacityAndSignalsTheProducerWhenRoomReturns) {
  Channel<int> channel(2);
  TaskWakeup consumer;
  TaskWakeup producer;
  channel.set_consumer(&consumer);
  channel.set_producer(&producer);
  channel.push(batch_of(1));
  EXPECT_TRUE(consumer.pending()) << "the first element wakes the consumer";
  EXPECT_TRUE(channel.has_room());
  channel.push(batch_of(2));
  EXPECT_FALSE(channel.has_room());
  channel.push(batch_of(3));  // the overdraft: the output of one input element
  EXPECT_FALSE(producer.pending());
  Element<int> out;
  ASSERT_TRUE(channel.try_pop(out));
  EXPECT_FALSE(channel.has_room());
  EXPECT_FALSE(producer.pending()) << "still full: no wakeup yet";
  ASSERT_TRUE(channel.try_pop(out));
  EXPECT_TRUE(channel.has_room());
  EXPECT_TRUE(producer.pending()) << "room again: the producer is woken once";
  producer.wait_for(std::chrono::milliseconds(0));
  ASSERT_TRUE(channel.try_pop(out));
  EXPECT_EQ(out.batch[0].value, 3);
  EXPECT_FALSE(producer.pending());
  EXPECT_FALSE(channel.try_pop(out));
}

Element<int> batch_of_size(int records) {
  Element<int> e;
  for (int i = 0; i < records; ++i) e.batch.push_back(Record<int>{i, 0});
  return e;
}

// Buffer debloating: a record budget also limits the room, and the
// producer is woken when the records drop below it or it grows.
TEST(Channel, ARecordBudgetLimitsTheRoomAndItsReturnWakesTheProducer) {
  Channel<int> channel(8);
  TaskWakeup producer;
  channel.set_producer(&producer);
  channel.set_record_budget(100);
  producer.wait_for(std::chrono::milliseconds(0));
  channel.push(batch_of_size(60));
  EXPECT_TRUE(channel.has_room());
  channel.push(batch_of_size(60));
  EXPECT_FALSE(channel.has_room()) << "120 records of a budget of 100, 2 of 8 elements";
  Element<int> out;
  ASSERT_TRUE(channel.try_pop(out));
  EXPECT_TRUE(channel.has_room());
  EXPECT_TRUE(producer.pending()) << "under the budget again";
  producer.wait_for(std::chrono::milliseconds(0));
  channel.push(batch_of_size(60));
  EXPECT_FALSE(channel.has_room());
  channel.set_record_budget(1000);
  EXPECT_TRUE(channel.has_room());
  EXPECT_TRUE(producer.pending()) << "a larger budget makes room";
}

// The receiving end of a remote edge holds back the credit of a pop that
// leaves it over budget and returns it with the next pop under it.
TEST(Channel, TheReceivingEndWithholdsCreditsWhileOverBudget) {
  testing::CountingPopListener listener;
  Channel<int> in(4);
  in.set_pop_listener(&listener);
  in.set_record_budget(50);
  for (int i = 0; i < 4; ++i) in.push_credited(batch_of_size(30));
  Element<int> out;
  ASSERT_TRUE(in.try_pop(out));  // 90 left
  ASSERT_TRUE(in.try_pop(out));  // 60 left
  EXPECT_EQ(listener.pops, 0) << "over budget: credits held back";
  ASSERT_TRUE(in.try_pop(out));  // 30 left
  EXPECT_EQ(listener.pops, 3) << "under it: every credit back";
  ASSERT_TRUE(in.try_pop(out));
  EXPECT_EQ(listener.pops, 4);
}

// The meter sets the budget to the rate times the target over intervals in
// which the consumer never ran dry, and doubles it when it did.
TEST(BufferDebloat, TheBudgetFollowsTheConsumersRate) {
  DebloatMeter meter(500);
  using Clock = DebloatMeter::Clock;
  Clock::time_point t0 = Clock::now();
  EXPECT_EQ(meter.on_pop(1000, false, t0), std::nullopt);
  EXPECT_EQ(meter.on_pop(1000, false, t0 + std::chrono::milliseconds(50)), std::nullopt);
  // 2000 more records in the first 100 ms: 20,000 a second, 10,000 in 500 ms.
  EXPECT_EQ(meter.on_pop(2000, false, t0 + std::chrono::milliseconds(100)), 20000u);
  // 200 records in the next 100 ms: 1000 wanted, averaged with 20,000.
  EXPECT_EQ(meter.on_pop(200, false, t0 + std::chrono::milliseconds(200)), 10500u);
  EXPECT_EQ(meter.on_pop(10, true, t0 + std::chrono::milliseconds(300)), 21000u)
      << "ran dry: the producer was slower";
  EXPECT_EQ(meter.on_pop(1, false, t0 + std::chrono::milliseconds(1300)),
            (21000u + DebloatMeter::kMinRecords) / 2)
      << "never below the minimum";
}

TEST(Channel, ABatchBeyondTheOverdraftWaitsForAPop) {
  Channel<int> channel(2);
  for (int v = 1; v <= 4; ++v) channel.push(batch_of(v));  // capacity and overdraft
  std::atomic<bool> started{false};
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    started = true;
    channel.push(batch_of(5));
    pushed = true;
  });
  ASSERT_TRUE(testing::eventually([&] { return started.load(); }));
  // An observation window, not synchronisation: the push must not finish in it.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // sleep-ok: observation window
  EXPECT_FALSE(pushed.load());
  Element<int> out;
  ASSERT_TRUE(channel.try_pop(out));
  producer.join();
  EXPECT_TRUE(pushed.load());
  for (int v = 2; v <= 5; ++v) {
    ASSERT_TRUE(channel.try_pop(out));
    EXPECT_EQ(out.batch[0].value, v);
  }
}

TEST(Channel, ControlElementsNeverWait) {
  Channel<int> channel(1);
  channel.push(batch_of(1));
  channel.push(batch_of(2));
  channel.push(control(ElementKind::kWatermark));
  channel.push(control(ElementKind::kBarrier));
  channel.push(control(ElementKind::kEnd));
  EXPECT_EQ(channel.queued(), 5u);
}

TEST(Channel, DrainedBatchBuffersGoBackToTheProducer) {
  Channel<int> channel(4);
  Element<int> first = batch_of(1);
  first.batch.reserve(kMaxBatchRecords);
  const Record<int>* buffer = first.batch.data();
  channel.push(std::move(first));
  channel.push(batch_of(2));
  Element<int> out;
  ASSERT_TRUE(channel.try_pop(out));
  EXPECT_EQ(out.batch.data(), buffer);
  ASSERT_TRUE(channel.try_pop(out));  // leaves the first buffer behind
  Batch<int> spare;
  channel.push(batch_of(3), &spare);
  EXPECT_EQ(spare.data(), buffer);
  EXPECT_TRUE(spare.empty());
  EXPECT_EQ(spare.capacity(), kMaxBatchRecords);
}

// A collecting head operator for reader tests.
class Kept final : public Downstream<int> {
 public:
  void push_batch(Batch<int>& batch) override {
    for (const Record<int>& r : batch) values.push_back(r.value);
  }
  void push_watermark(Timestamp) override {}
  std::vector<int> values;
};

// Drains `reader`; the kinds of the control elements it handed on.
std::vector<ElementKind> drain(ChannelReaderBase& reader) {
  std::vector<ElementKind> kinds;
  for (Polled p = reader.poll(); p.got; p = reader.poll()) {
    if (p.kind != ElementKind::kBatch) kinds.push_back(p.kind);
  }
  return kinds;
}

TEST(InFlight, TheBarrierOvertakesTheQueueAndItsContentIsRecordedInPlace) {
  Channel<int> channel(8);
  channel.push(batch_of(1));
  channel.push(batch_of(2));
  Element<int> barrier = control(ElementKind::kBarrier);
  barrier.checkpoint = 5;
  channel.push_priority(std::move(barrier));
  channel.push(batch_of(3));  // after the producer's snapshot: not in flight
  Kept kept;
  ChannelReader<int> reader(&channel, &kept);
  Polled first = reader.poll();
  ASSERT_TRUE(first.got);
  EXPECT_EQ(first.kind, ElementKind::kBarrier);
  reader.record_until_mark(5, /*barrier_here=*/true);
  EXPECT_FALSE(reader.recording()) << "the mark was queued: everything is recorded at once";
  std::string recorded = reader.take_recorded();
  EXPECT_EQ(drain(reader), std::vector<ElementKind>{ElementKind::kBarrierMark});
  EXPECT_EQ(kept.values, (std::vector<int>{1, 2, 3}));

  Channel<int> restored_channel(8);
  restored_channel.push(batch_of(4));
  Kept restored;
  ChannelReader<int> restored_reader(&restored_channel, &restored);
  restored_reader.replay(recorded);
  drain(restored_reader);
  EXPECT_EQ(restored.values, (std::vector<int>{1, 2, 4})) << "in flight first, then new input";
}

TEST(InFlight, AnInputWithoutTheBarrierYetIsRecordedAsItIsTakenUntilItsMark) {
  Channel<int> channel(8);
  channel.set_priority_barriers(true);
  Kept kept;
  ChannelReader<int> reader(&channel, &kept);
  reader.record_until_mark(7, /*barrier_here=*/false);
  channel.push(batch_of(1));
  ASSERT_TRUE(reader.poll().got);  // taken after the task's snapshot: in flight
  channel.push(batch_of(2));
  Element<int> barrier = control(ElementKind::kBarrier);
  barrier.checkpoint = 7;
  // A remote edge: the barrier jumps the queue, and its mark goes where it
  // arrived (what the sender still held, the sender recorded).
  channel.push_credited(std::move(barrier));
  channel.push(batch_of(3));
  Polled polled = reader.poll();
  EXPECT_EQ(polled.kind, ElementKind::kBarrier);
  EXPECT_FALSE(reader.recording()) << "the mark was queued with the barrier";
  drain(reader);
  EXPECT_EQ(kept.values, (std::vector<int>{1, 2, 3}));
  Channel<int> empty(8);
  Kept restored;
  ChannelReader<int> restored_reader(&empty, &restored);
  restored_reader.replay(reader.take_recorded());
  drain(restored_reader);
  EXPECT_EQ(restored.values, (std::vector<int>{1, 2})) << "each once, in channel order";
}

TEST(InFlight, DataOfAnotherParallelismIsRefusedWithItsOperatorNamed) {
  Topology topology("t");
  auto source = std::make_shared<testing::VectorSource<int>>(std::vector<int>{1, 2, 3});
  auto collected = std::make_shared<Collected<int>>();
  topology.source<int>("src", source)
      .rebalance()
      .map("double", [](int x) { return 2 * x; })
      .sink("out", std::make_shared<CollectSink<int>>(collected));
  std::map<std::string, OperatorRestore> restore;
  restore["double#in-flight"].operator_states = {"taken at", "parallelism 2"};
  PlanOptions options;
  options.parallelism = 3;
  options.restore = &restore;
  JobControl control;
  JobMetrics metrics;
  try {
    build_execution_plan(topology.graph(), options, control, metrics, SystemClock::instance());
    FAIL() << "restored in-flight data at another parallelism";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("in-flight data of 'double' at parallelism 2"),
              std::string::npos)
        << e.what();
  }
  // Empty in-flight states: nothing was in flight, any parallelism will do.
  restore["double#in-flight"].operator_states = {"", ""};
  EXPECT_NO_THROW(
      build_execution_plan(topology.graph(), options, control, metrics, SystemClock::instance()));
}

// What a SIGKILLed process left (its owner lock is free) goes; a live
// one's, a young one's and anything not ours stay.
TEST(JobStateDirectory, RemovesWhatKilledProcessesLeftAndNothingElse) {
  namespace fs = std::filesystem;
  std::string pattern = (fs::temp_directory_path() / "state-dir-test-XXXXXX").string();
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  fs::path parent = pattern;
  auto make = [&](const std::string& name, bool owner, bool old) {
    fs::create_directories(parent / name / "count-0");
    if (!owner) return;
    fs::path file = parent / name / ".owner";
    std::ofstream(file).put('x');
    if (old) fs::last_write_time(file, fs::file_time_type::clock::now() - std::chrono::hours(1));
  };
  make("sluice-state-dead", true, true);
  make("sluice-state-live", true, true);
  make("sluice-state-young", true, false);
  make("sluice-state-unowned", false, false);
  make("other-dead", true, true);
  int live = ::open((parent / "sluice-state-live" / ".owner").c_str(), O_RDONLY);
  ASSERT_GE(live, 0);
  ASSERT_EQ(::flock(live, LOCK_EX | LOCK_NB), 0);  // as its running process would

  EXPECT_EQ(JobStateDirectory::remove_abandoned(parent.string()), 1);
  EXPECT_FALSE(fs::exists(parent / "sluice-state-dead"));
  for (const char* kept :
       {"sluice-state-live", "sluice-state-young", "sluice-state-unowned", "other-dead"}) {
    EXPECT_TRUE(fs::exists(parent / kept)) << kept;
  }
  ::close(live);
  fs::remove_all(parent);
}

TEST(Channel, CancelReleasesABlockedProducer) {
  Channel<int> channel(1);
  channel.push(batch_of(1));
  channel.push(batch_of(2));  // the overdraft is used up
  std::thread canceller([&] { channel.cancel(); });
  EXPECT_THROW(channel.push(batch_of(3)), CancelledError);
  canceller.join();
}

TEST(ExecutionPlan, ChainsForwardEdgesAndSplitsAtShuffles) {
  Topology topology("t");
  auto source = std::make_shared<testing::VectorSource<int>>(std::vector<int>{1, 2, 3});
  auto collected = std::make_shared<Collected<int>>();
  topology.source<int>("src", source)
      .map("double", [](int x) { return 2 * x; })
      .filter("even", [](const int& x) { return x % 2 == 0; })
      .key_by([](const int& x) { return x; })
      .reduce("sum", [](int a, int b) { return a + b; })
      .sink("out", std::make_shared<CollectSink<int>>(collected));
  PlanOptions options;
  options.parallelism = 3;
  JobControl control;
  JobMetrics metrics;
  ExecutionPlan plan =
      build_execution_plan(topology.graph(), options, control, metrics, SystemClock::instance());
  EXPECT_EQ(plan.chains, (std::vector<std::string>{"src -> double -> even", "sum -> out"}));
  EXPECT_EQ(plan.tasks.size(), 6u);
  EXPECT_EQ(plan.channels.size(), 9u);  // all-to-all for the hash edge
}

TEST(ExecutionPlan, RejectsForwardBetweenDifferentParallelism) {
  Topology topology("t");
  auto source = std::make_shared<testing::VectorSource<int>>(std::vector<int>{1});
  auto collected = std::make_shared<Collected<int>>();
  auto mapped = topology.source<int>("src", source).forward().map("m", [](int x) { return x; });
  mapped.parallelism(2);
  mapped.sink("out", std::make_shared<CollectSink<int>>(collected));
  JobControl control;
  JobMetrics metrics;
  PlanOptions options;
  EXPECT_THROW(
      build_execution_plan(topology.graph(), options, control, metrics, SystemClock::instance()),
      UsageError);
}

TEST(Topology, DuplicateOperatorNamesAreRejected) {
  Topology topology("t");
  auto source = std::make_shared<testing::VectorSource<int>>(std::vector<int>{1});
  auto s = topology.source<int>("src", source);
  s.map("m", [](int x) { return x; });
  EXPECT_THROW(s.map("m", [](int x) { return x; }), UsageError);
}

// The event-time lag is processing time minus the sinks' (minimum)
// watermark, and absent before the first watermark and after the last.
TEST(Progress, ReportsTheEventTimeLagOfTheSlowestSink) {
  ManualClock clock;
  std::vector<ProgressSample> samples;
  ProgressReporter reporter([&](const ProgressSample& s) { samples.push_back(s); }, 1000,
                            std::chrono::steady_clock::now(), clock);
  JobMetrics metrics;
  std::atomic<Timestamp>* first = metrics.add_sink_watermark_slot();
  std::atomic<Timestamp>* second = metrics.add_sink_watermark_slot();
  reporter.report(metrics, 0, /*force=*/true);
  first->store(9000);
  second->store(7500);
  clock.set(10000);
  reporter.report(metrics, 0, true);
  first->store(kMaxTimestamp);
  second->store(kMaxTimestamp);
  reporter.report(metrics, 0, true);
  ASSERT_EQ(samples.size(), 3u);
  EXPECT_EQ(samples[0].event_time_lag, std::nullopt);
  EXPECT_EQ(samples[1].event_time_lag, 2500);
  EXPECT_EQ(samples[2].event_time_lag, std::nullopt);
}

}  // namespace
}  // namespace sluice
