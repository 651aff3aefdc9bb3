// Final checkpoints (design section 13): checkpoints go on after some
// tasks finished their input, sinks commit their last output only through
// a checkpoint taken after it, and a failure after the first task finished
// restores a checkpoint that knows the finished task's final state:
// nothing is lost, nothing is committed twice.
#include <atomic>
#include <set>

#include <gtest/gtest.h>

#include "connectors/generator_source.h"
#include "runtime/api/topology.h"
#include "runtime/core/fault_injection.h"
#include "runtime/executor/local_executor.h"
#include "runtime/executor/restarts.h"
#include "tests/process_runner.h"
#include "tests/two_phase_test_sink.h"

namespace sluice {
namespace {

using CommitLog = testing::CommitLog<int64_t>;
using TwoPhaseSink = testing::TwoPhaseSink<int64_t>;

constexpr int64_t kValues = 3000;  // per subtask

// Set once pipeline 1 may read its second half (the test holds it back
// until checkpoints completed after pipeline 0 finished).
std::atomic<bool> g_release{false};
// Set to make pipeline 1 fail once, at its first value after the release.
std::atomic<bool> g_fail_once{false};

// Subtask s reads s * 1e6 + [0, kValues): subtask 0 at once, subtask 1 its
// first half at once and its second half only after g_release. A split's
// position is the next value's index.
class UnevenSource final : public Source<int64_t> {
 public:
  std::unique_ptr<SourceReader<int64_t>> create_reader(int subtask, int) const override {
    return std::make_unique<Reader>(subtask);
  }

 private:
  class Reader final : public SourceReader<int64_t> {
   public:
    explicit Reader(int subtask) : subtask_(subtask) {}
    std::vector<int> splits() const override { return {subtask_}; }
    ReadResult read(Batch<int64_t>& out, size_t max_records, Timestamp now) override {
      if (next_ >= kValues) return ReadResult{ReadStatus::kFinished, subtask_, 0};
      int64_t stop = kValues;
      if (subtask_ == 1 && !g_release.load()) stop = kValues / 2;
      if (next_ >= stop) return ReadResult{ReadStatus::kNotYet, subtask_, now + 5};
      for (size_t n = 0; n < std::min<size_t>(max_records, 100) && next_ < stop; ++n) {
        out.push_back(Record<int64_t>{subtask_ * 1'000'000 + next_++, 0});
      }
      return ReadResult{ReadStatus::kRecords, subtask_, 0};
    }
    std::vector<SplitPosition> snapshot_positions() const override {
      return {SplitPosition{subtask_, encode_to_string(next_)}};
    }
    void restore_positions(const std::vector<SplitPosition>& positions) override {
      for (const SplitPosition& p : positions) {
        if (p.split == subtask_) next_ = decode_from_string<int64_t>(p.position);
      }
    }

   private:
    int subtask_;
    int64_t next_ = 0;
  };
};

// Two independent pipelines (forward edges, parallelism 2): source ->
// maybe-fail -> two-phase sink, so subtask 0's sink finishes long before
// subtask 1's tasks do.
void build(Topology& topology, std::shared_ptr<CommitLog> log) {
  topology.source<int64_t>("uneven", std::make_shared<UnevenSource>())
      .map("maybe-fail",
           [](int64_t v) {
             bool expected = true;
             if (v >= 1'000'000 + kValues / 2 &&
                 g_fail_once.compare_exchange_strong(expected, false)) {
               throw std::runtime_error("injected failure at " + std::to_string(v));
             }
             return v;
           })
      .sink("committed", std::make_shared<TwoPhaseSink>(log));
}

std::vector<int64_t> reference() {
  std::vector<int64_t> all;
  for (int64_t s = 0; s < 2; ++s) {
    for (int64_t n = 0; n < kValues; ++n) all.push_back(s * 1'000'000 + n);
  }
  return all;
}

// Runs the job with restarts; releases pipeline 1 once `checkpoints_after`
// checkpoints completed after subtask 0's sink finished.
struct Outcome {
  RecoveryResult recovery;
  size_t checkpoints_after_first_finish = 0;
};

RestartStrategy restart_once() {
  RestartStrategy strategy;
  strategy.kind = RestartStrategy::Kind::kFixedDelay;
  strategy.delay = 10;
  return strategy;
}

Outcome run_uneven(const std::string& dir, std::shared_ptr<CommitLog> log) {
  g_release = false;
  LocalJobOptions options;
  options.plan.job_name = "uneven";
  options.plan.parallelism = 2;
  options.checkpoint.directory = dir;
  options.checkpoint.interval = 20;
  options.progress_interval = 5;
  size_t at_first_finish = 0;
  std::chrono::steady_clock::time_point first_finish;
  Outcome outcome;
  options.on_progress = [&](const ProgressSample& s) {
    bool first_finished;
    {
      std::lock_guard lock(log->mutex);
      first_finished = !log->finished.empty();
    }
    if (!first_finished || g_release) return;
    if (at_first_finish == 0) {
      at_first_finish = s.checkpoints_completed + 1;
      first_finish = std::chrono::steady_clock::now();
    }
    outcome.checkpoints_after_first_finish = s.checkpoints_completed + 1 - at_first_finish;
    // Bounded: should checkpoints stop, the test still ends (and fails).
    bool waited_long = std::chrono::steady_clock::now() - first_finish > std::chrono::seconds(10);
    if (outcome.checkpoints_after_first_finish >= 2 || waited_long) g_release = true;
  };
  Topology topology("uneven");
  build(topology, log);
  outcome.recovery = run_with_restarts(topology.graph(), options, restart_once());
  return outcome;
}

std::vector<int64_t> committed(const CommitLog& log) {
  std::vector<int64_t> rows = log.rows;
  std::sort(rows.begin(), rows.end());
  return rows;
}

// Continuous mode: after subtask 0 finished, checkpoints go on (pipeline 1
// is only released once two more completed); pipeline 1 then fails, the job
// restarts from a checkpoint taken after subtask 0 finished, and the
// committed output is exact: subtask 0's tail, committed by a checkpoint
// before the failure, is neither lost nor replayed.
TEST(FinalCheckpoints, AFailureAfterTheFirstTaskFinishedCommitsEverythingOnce) {
  testing::TempDir dir;
  auto log = std::make_shared<CommitLog>();
  g_fail_once = true;
  Outcome outcome = run_uneven(dir.path(), log);
  ASSERT_TRUE(outcome.recovery.last.succeeded) << outcome.recovery.last.failure->message;
  EXPECT_EQ(outcome.recovery.restarts, 1);
  EXPECT_FALSE(g_fail_once.load()) << "the failure was never injected";
  EXPECT_GE(outcome.checkpoints_after_first_finish, 2u) << "checkpoints stopped at the first end";
  EXPECT_EQ(committed(*log), reference());
}

// Without a failure, the end of the job is a final checkpoint: every task's
// part of it was taken after its input ended, and the sinks' last rows are
// committed by it (the test sink's finish() commits nothing).
TEST(FinalCheckpoints, TheLastOutputIsCommittedByTheFinalCheckpoint) {
  testing::TempDir dir;
  auto log = std::make_shared<CommitLog>();
  Outcome outcome = run_uneven(dir.path(), log);
  ASSERT_TRUE(outcome.recovery.last.succeeded) << outcome.recovery.last.failure->message;
  EXPECT_EQ(outcome.recovery.restarts, 0);
  EXPECT_EQ(committed(*log), reference());
  EXPECT_EQ(log->finished.size(), 2u);
}

// Micro-batch mode: sources end together after the last batch; a failure
// between the end of input and the final checkpoint (a task throws right
// after its input ended) restarts from the last batch, and the output is
// exact.
TEST(FinalCheckpoints, MicroBatchAFailureAfterTheInputEndedCommitsEverythingOnce) {
  testing::TempDir dir;
  auto log = std::make_shared<CommitLog>();
  GeneratorOptions generator;
  generator.count = 2 * kValues;
  auto source = std::make_shared<GeneratorSource<int64_t, int64_t (*)(uint64_t, SplitRandom&)>>(
      generator, [](uint64_t n, SplitRandom&) { return static_cast<int64_t>(n); });
  Topology topology("numbers");
  topology.source<int64_t>("numbers", source)
      .sink("committed", std::make_shared<TwoPhaseSink>(log));
  LocalJobOptions options;
  options.plan.job_name = "numbers";
  options.plan.parallelism = 2;
  options.checkpoint.directory = dir.path();
  options.checkpoint.batches.enabled = true;
  options.checkpoint.batches.max_records = 500;
  fault::arm_point("task.input-ended", fault::PointAction::kThrow);
  RecoveryResult recovery = run_with_restarts(topology.graph(), options, restart_once());
  int hits = fault::hits("task.input-ended");
  fault::disarm_all();
  ASSERT_TRUE(recovery.last.succeeded) << recovery.last.failure->message;
  EXPECT_GE(hits, 1);
  EXPECT_EQ(recovery.restarts, 1);
  std::vector<int64_t> expected;
  for (int64_t n = 0; n < 2 * kValues; ++n) expected.push_back(n);
  EXPECT_EQ(committed(*log), expected);
}

}  // namespace
}  // namespace sluice
