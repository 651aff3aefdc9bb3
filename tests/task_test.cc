// A task's mailbox loop driven directly: two input channels into a
// recording operator, checkpoint mails posted by the test in place of the
// coordinator, and what the task snapshots and forwards observed.
#include "runtime/task/task.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <thread>

#include <gtest/gtest.h>

#include "operators/async_operator.h"
#include "tests/held_lookups.h"
#include "tests/test_support.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;

// Takes the coordinator's place: records the checkpoints the task took.
class RecordedCheckpoints final : public CheckpointParticipation {
 public:
  void submit_snapshot(int64_t id, size_t, std::vector<OperatorSnapshotBytes> snapshots,
                       const SnapshotReport& report) override {
    std::lock_guard lock(mutex_);
    taken_.push_back(id);
    for (OperatorSnapshotBytes& s : snapshots) states_[s.name] = s.operator_state;
    alignments_.push_back(report.alignment_ms);
    changed_.notify_all();
  }
  void submit_slices(int64_t, size_t, std::vector<SplitSlice>, SourceInput, bool) override {}
  void input_ended(size_t) override {
    std::lock_guard lock(mutex_);
    input_ended_ = true;
    changed_.notify_all();
  }
  void task_finished(size_t) override {}
  bool wait_for_checkpoint(int64_t id) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(
        lock, 10s, [&] { return std::find(taken_.begin(), taken_.end(), id) != taken_.end(); });
  }
  std::vector<int64_t> taken() {
    std::lock_guard lock(mutex_);
    return taken_;
  }
  std::vector<DurationMs> alignments() {
    std::lock_guard lock(mutex_);
    return alignments_;
  }
  // The operator state stored under `name` by the last snapshot with it.
  std::optional<std::string> state(const std::string& name) {
    std::lock_guard lock(mutex_);
    auto it = states_.find(name);
    if (it == states_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<int64_t> taken_;
  std::vector<DurationMs> alignments_;
  std::map<std::string, std::string> states_;
  bool input_ended_ = false;
};

// The task's only operator: keeps every value it receives.
class Recorder final : public InputOperator<int64_t> {
 public:
  void process_batch(Batch<int64_t>& batch) override {
    std::lock_guard lock(mutex_);
    for (const Record<int64_t>& r : batch) values_.push_back(r.value);
    changed_.notify_all();
  }
  void process_watermark(Timestamp) override {}
  size_t count() {
    std::lock_guard lock(mutex_);
    return values_.size();
  }
  bool wait_for_value(int64_t value) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 10s, [&] {
      return std::find(values_.begin(), values_.end(), value) != values_.end();
    });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<int64_t> values_;
};

// One task reading channels `a` and `b` into a Recorder, on its own thread.
class TwoInputTask : public ::testing::Test {
 protected:
  void SetUp() override {
    task_ = std::make_unique<Task>("job/v/0", control_, metrics_, clock_, StateBackendConfig{});
    auto recorder = std::make_unique<Recorder>();
    recorder_ = recorder.get();
    recorder->set_info(OperatorInfo{"recorder", "job/v/0", 0, 1});
    task_->add_operator(std::move(recorder));
    for (Channel<int64_t>* channel : {&a_, &b_}) {
      channel->set_consumer(&task_->wakeup());
      task_->add_reader(std::make_unique<ChannelReader<int64_t>>(channel, recorder_));
    }
    task_->attach(&checkpoints_, 0);
    control_.expect_tasks(1);
    thread_ = std::thread([this] { task_->run(); });
  }
  void TearDown() override {
    control_.cancel();
    thread_.join();
  }

  static Element<int64_t> barrier(int64_t id) {
    Element<int64_t> e;
    e.kind = ElementKind::kBarrier;
    e.checkpoint = id;
    return e;
  }
  static Element<int64_t> values(std::vector<int64_t> v) {
    Element<int64_t> e;
    for (int64_t x : v) e.batch.push_back(Record<int64_t>{x, 0});
    return e;
  }

  JobControl control_;
  JobMetrics metrics_;
  ManualClock clock_{1000};
  Channel<int64_t> a_{8};
  Channel<int64_t> b_{8};
  RecordedCheckpoints checkpoints_;
  Recorder* recorder_ = nullptr;
  std::unique_ptr<Task> task_;
  std::thread thread_;
};

TEST_F(TwoInputTask, AlignsBarriersOfBothInputsBeforeTheSnapshot) {
  a_.push(barrier(1));
  a_.push(values({10}));  // after the barrier on a: held back until b's barrier
  b_.push(values({20}));
  ASSERT_TRUE(recorder_->wait_for_value(20));
  clock_.advance(250);
  b_.push(barrier(1));
  ASSERT_TRUE(checkpoints_.wait_for_checkpoint(1));
  ASSERT_TRUE(recorder_->wait_for_value(10));
  EXPECT_EQ(checkpoints_.alignments(), std::vector<DurationMs>{250})
      << "alignment: from the first barrier to the last, on the task's clock";
}

// A barrier that arrives after its checkpoint was aborted must not block
// its input: nothing else will ever complete that alignment.
TEST_F(TwoInputTask, ALateBarrierOfAnAbortedCheckpointDoesNotBlockItsInput) {
  a_.push(barrier(1));
  task_->post(Mail{MailKind::kCheckpointAborted, 1});
  a_.push(values({10}));
  ASSERT_TRUE(recorder_->wait_for_value(10)) << "the abort did not release input a";
  b_.push(barrier(1));  // late, of the aborted checkpoint
  b_.push(values({20}));
  EXPECT_TRUE(recorder_->wait_for_value(20)) << "the late barrier blocked input b";
  // The next checkpoint aligns as usual.
  a_.push(barrier(2));
  b_.push(barrier(2));
  ASSERT_TRUE(checkpoints_.wait_for_checkpoint(2));
  EXPECT_EQ(checkpoints_.taken(), std::vector<int64_t>{2});
}

// An asynchronous operator at its bound holds its task's input back: the
// task takes no element while the operator is full, and the wakeup of a
// completion lets it go on.
TEST(AsyncTask, AnOperatorAtItsBoundHoldsTheInputBackUntilResultsArrive) {
  JobControl control;
  JobMetrics metrics;
  ManualClock clock{1000};
  Channel<int64_t> in{8};
  testing::HeldLookups held;
  auto task = std::make_unique<Task>("job/v/0", control, metrics, clock, StateBackendConfig{});
  auto async = std::make_unique<AsyncOperator<int64_t, int64_t, testing::HeldLookups>>(
      held, AsyncOptions{.capacity = 2});
  auto recorder = std::make_unique<Recorder>();
  async->set_info(OperatorInfo{"lookup", "job/v/0", 0, 1});
  recorder->set_info(OperatorInfo{"recorder", "job/v/0", 0, 1});
  async->output().set_target(recorder.get());
  Recorder* results = recorder.get();
  in.set_consumer(&task->wakeup());
  task->add_reader(std::make_unique<ChannelReader<int64_t>>(&in, async.get()));
  task->add_operator(std::move(async));
  task->add_operator(std::move(recorder));
  control.expect_tasks(1);
  std::thread thread([&] { task->run(); });

  for (int64_t first : {1, 3, 5}) {
    Element<int64_t> element;
    element.batch = {Record<int64_t>{first, 0}, Record<int64_t>{first + 1, 0}};
    in.push(std::move(element));
  }
  ASSERT_TRUE(testing::eventually([&] { return held.issued() == 2; }, 10s));
  EXPECT_FALSE(testing::eventually([&] { return in.queued() < 2; }, 200ms))
      << "the task took input while its operator was full";
  EXPECT_EQ(held.issued(), 2u);
  for (size_t issued : {4u, 6u}) {
    held.complete_issued();
    ASSERT_TRUE(testing::eventually([&] { return held.issued() == issued; }, 10s))
        << "the results did not let the task go on";
  }
  held.complete_issued();
  EXPECT_TRUE(results->wait_for_value(-6));
  EXPECT_EQ(results->count(), 6u);
  control.cancel();
  thread.join();
}

// A source task whose only output channel nobody reads: the channel fills,
// and the task must still take a checkpoint when triggered (its barrier
// queues behind the data) and end at once when the job is cancelled.
TEST(BackpressuredSource, TakesCheckpointsAndEndsOnCancelWhileItsOutputIsFull) {
  JobControl control;
  JobMetrics metrics;
  RecordedCheckpoints checkpoints;
  Channel<int64_t> out(2);
  Task task("job/src/0", control, metrics, SystemClock::instance(), StateBackendConfig{});
  std::vector<int64_t> values(100 * kMaxBatchRecords);
  std::iota(values.begin(), values.end(), 0);
  testing::VectorSource<int64_t> source(values);
  auto op = std::make_unique<SourceOperator<int64_t, NoTimestamps>>(
      source.create_reader(0, 1), WatermarkStrategy<NoTimestamps>{});
  auto writer = std::make_unique<ForwardWriter<int64_t>>(std::vector<Channel<int64_t>*>{&out});
  op->output().set_target(writer.get());
  op->set_info(OperatorInfo{"src", "job/src/0", 0, 1});
  SourceOperatorBase* raw = op.get();
  task.add_operator(std::move(op));
  task.set_source(raw, SourceReading::kContinuous);
  task.add_writer(std::move(writer));
  out.set_producer(&task.wakeup());
  task.attach(&checkpoints, 0);
  control.expect_tasks(1);
  control.add_wakeup(&task.wakeup());
  std::atomic<bool> ended{false};
  std::thread thread([&] {
    task.run();
    ended = true;
  });

  ASSERT_TRUE(testing::eventually([&] { return !out.has_room(); }));
  size_t queued = out.queued();
  task.post(Mail{MailKind::kTriggerCheckpoint, 1});
  EXPECT_TRUE(checkpoints.wait_for_checkpoint(1)) << "the full output kept the trigger out";
  EXPECT_EQ(out.queued(), queued + 1) << "the barrier queues behind the data, nothing more";

  control.cancel();
  EXPECT_TRUE(testing::eventually([&] { return ended.load(); }, std::chrono::seconds(5)));
  thread.join();
  Element<int64_t> element;
  std::vector<ElementKind> kinds;
  while (out.try_pop(element)) kinds.push_back(element.kind);
  ASSERT_EQ(kinds.size(), queued + 1);
  EXPECT_EQ(kinds.back(), ElementKind::kBarrier);
  EXPECT_EQ(element.checkpoint, 1);
  // Its probe, as the job's registry lists it: one snapshot, and the time
  // it spent waiting went to backpressure, none to waiting for input.
  std::map<std::string, double> probe;
  for (const MetricSample& sample : metrics.registry.collect()) {
    if (sample.labels == MetricLabels{{"task", "job/src/0"}}) probe[sample.name] = sample.value;
  }
  EXPECT_EQ(probe.at("task_snapshots"), 1);
  EXPECT_GT(probe.at("task_backpressured_us"), 0);
  EXPECT_EQ(probe.at("task_idle_us"), 0);
}

// Passes its input on unchanged.
class Forwarder final : public OneInputOperator<int64_t, int64_t> {
 public:
  void process_batch(Batch<int64_t>& batch) override { output_.emit_batch(batch); }
};

// Makes `task` a Forwarder reading `in` and writing through `writer` to
// `outputs`, as the execution plan would.
void build_forwarding_task(Task& task, Channel<int64_t>& in,
                           std::unique_ptr<ChannelWriter<int64_t>> writer,
                           const std::vector<Channel<int64_t>*>& outputs) {
  auto op = std::make_unique<Forwarder>();
  op->output().set_target(writer.get());
  op->set_info(OperatorInfo{"fwd", "job/fwd/0", 0, 1});
  Forwarder* forwarder = op.get();
  task.add_operator(std::move(op));
  task.add_writer(std::move(writer));
  in.set_consumer(&task.wakeup());
  task.add_reader(std::make_unique<ChannelReader<int64_t>>(&in, forwarder));
  for (Channel<int64_t>* out : outputs) out->set_producer(&task.wakeup());
}

// Unaligned: a task whose output nobody reads still takes the barrier that
// overtook its input queue, stores that queue as in-flight data, and passes
// the barrier ahead of its own full output.
TEST(UnalignedCheckpoint, CompletesWhileTheOutputIsFullAndStoresTheQueuedInput) {
  JobControl control;
  JobMetrics metrics;
  RecordedCheckpoints checkpoints;
  Channel<int64_t> in(16);
  Channel<int64_t> out(1);
  Task task("job/fwd/0", control, metrics, SystemClock::instance(), StateBackendConfig{});
  build_forwarding_task(
      task, in, std::make_unique<ForwardWriter<int64_t>>(std::vector<Channel<int64_t>*>{&out}),
      {&out});
  task.set_unaligned(true);
  task.attach(&checkpoints, 0);
  control.expect_tasks(1);
  control.add_wakeup(&task.wakeup());
  std::thread thread([&] { task.run(); });

  auto values = [](int64_t from, int64_t to) {
    Element<int64_t> e;
    for (int64_t v = from; v < to; ++v) e.batch.push_back(Record<int64_t>{v, 0});
    return e;
  };
  in.push(values(0, 10));
  ASSERT_TRUE(testing::eventually([&] { return !out.has_room(); }));
  in.push(values(10, 20));  // the task has no room: these stay queued
  in.push(values(20, 30));
  Element<int64_t> barrier;
  barrier.kind = ElementKind::kBarrier;
  barrier.checkpoint = 3;
  in.push_priority(std::move(barrier));
  ASSERT_TRUE(checkpoints.wait_for_checkpoint(3)) << "backpressure held the checkpoint up";

  std::optional<std::string> stored = checkpoints.state("fwd" + std::string(kInFlightSuffix));
  ASSERT_TRUE(stored.has_value());
  auto in_flight = decode_versioned<std::vector<std::string>>(kInFlightFormat, *stored);
  ASSERT_EQ(in_flight.size(), 1u);
  Channel<int64_t> replayed_channel(4);
  Recorder replayed;
  ChannelReader<int64_t> replay(&replayed_channel, &replayed);
  replay.replay(in_flight[0]);
  while (replay.poll().got) {
  }
  EXPECT_TRUE(replayed.wait_for_value(10) && replayed.wait_for_value(29));
  EXPECT_EQ(replayed.count(), 20u) << "exactly the queued input, 10 to 29";

  Element<int64_t> first;
  ASSERT_TRUE(out.try_pop(first));
  EXPECT_EQ(first.kind, ElementKind::kBarrier) << "the barrier overtook the full output";
  EXPECT_EQ(first.checkpoint, 3);
  control.cancel();
  thread.join();
}

// Values below 1030 go to the first channel, the others to the second.
class SplitAt1030Writer final : public ChannelWriter<int64_t> {
 public:
  using ChannelWriter<int64_t>::ChannelWriter;
  void route(Batch<int64_t>& batch) override {
    for (Record<int64_t>& r : batch) append(r.value < 1030 ? 0 : 1, std::move(r));
  }
};

// A task whose output is full on one channel sends what it has for the
// others before it waits: their consumers do not starve while the full one
// drains.
TEST(BackpressuredTask, SendsPartialBatchesToChannelsWithRoomBeforeItWaits) {
  JobControl control;
  JobMetrics metrics;
  Channel<int64_t> in(4);
  Channel<int64_t> full(1);
  Channel<int64_t> other(4);
  Task task("job/fwd/0", control, metrics, SystemClock::instance(), StateBackendConfig{});
  build_forwarding_task(
      task, in, std::make_unique<SplitAt1030Writer>(std::vector<Channel<int64_t>*>{&full, &other}),
      {&full, &other});
  task.set_max_flush_delay(std::chrono::hours(1));  // only running dry or waiting flush
  control.expect_tasks(1);
  control.add_wakeup(&task.wakeup());
  std::thread thread([&] { task.run(); });

  // 1030 values fill `full` with one whole batch and leave 6 pending; the 5
  // for `other` make no whole batch. A second input keeps the task busy
  // (it may not take it while `full` has no room), so only the wait for
  // room can have sent the 5.
  Element<int64_t> input;
  for (int64_t v = 0; v < 1035; ++v) input.batch.push_back(Record<int64_t>{v, 0});
  in.push(std::move(input));
  Element<int64_t> more;
  more.batch.push_back(Record<int64_t>{2000, 0});
  in.push(std::move(more));
  bool sent = testing::eventually([&] { return other.queued() == 1; });
  size_t input_left = in.queued();
  size_t in_full = full.queued();
  control.cancel();
  thread.join();
  ASSERT_TRUE(sent) << "the records for the channel with room stayed pending";
  Element<int64_t> got;
  ASSERT_TRUE(other.try_pop(got));
  EXPECT_EQ(got.batch.size(), 5u);
  EXPECT_EQ(input_left, 1u) << "the second input waits for room";
  EXPECT_EQ(in_full, 1u) << "the full channel got no more";
}

}  // namespace
}  // namespace sluice
