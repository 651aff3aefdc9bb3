// The checkpoint coordinator in micro-batch mode, driven by hand with a
// manual clock and mailboxes that record what they are sent: planning,
// the write-ahead offset log, commits and progress, replays after a
// restore, the triggers, the end of the input and batch failures.
#include <filesystem>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/checkpoint/batch_log.h"
#include "runtime/coordinator/coordinator.h"
#include "tests/process_runner.h"
#include "tests/recording_mailbox.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
using testing::RecordingMailbox;
using testing::TempDir;

SplitSlice slice(int32_t split, int64_t start, int64_t end, int64_t available) {
  return SplitSlice{split, start, end, available, false};
}

// Two source tasks of source "events" (splits 0, 1 and 2, 3) and a sink.
class BatchCoordinatorTest : public ::testing::Test {
 protected:
  static constexpr size_t kSources = 2;

  std::unique_ptr<CheckpointCoordinator> start(BatchConfig batches, int64_t last_checkpoint = 0,
                                               bool resume = false) {
    CheckpointConfig config;
    config.directory = dir_.path();
    config.timeout = 5000;
    config.batches = batches;
    config.batches.enabled = true;
    auto c = std::make_unique<CheckpointCoordinator>(config, "job", 128, KeyHashing::kXxh3,
                                                     last_checkpoint, clock_);
    tasks_.clear();
    for (size_t i = 0; i < kSources + 1; ++i) {
      tasks_.push_back(std::make_unique<RecordingMailbox>(log_.offsets_dir()));
      c->attach(tasks_.back().get(), i < kSources ? "events" : "");
    }
    c->prepare_batches(resume);
    return c;
  }

  // Both sources answer the planning of `batch`: split k of source task
  // t = k / 2 has the slice [starts[k], ends[k]) of `available[k]`.
  void answer(CheckpointCoordinator& c, int64_t batch, std::vector<int64_t> starts,
              std::vector<int64_t> ends, std::vector<int64_t> available,
              SourceInput input = SourceInput::kOpen, bool watermark_moves = false) {
    for (size_t t = 0; t < kSources; ++t) {
      std::vector<SplitSlice> slices;
      for (int k = 2 * static_cast<int>(t); k < 2 * static_cast<int>(t) + 2; ++k) {
        slices.push_back(slice(k, starts[k], ends[k], available[k]));
      }
      c.accept_slices(batch, t, slices, input, watermark_moves && t == 0);
    }
  }

  // Every task acknowledges `batch`; source t read rows[t] records and is
  // at watermark watermarks[t].
  void acknowledge_all(CheckpointCoordinator& c, int64_t batch, std::vector<int64_t> rows,
                       std::vector<Timestamp> watermarks) {
    for (size_t t = 0; t < tasks_.size(); ++t) {
      StoredSnapshot stored;
      stored.id = batch;
      stored.task = t;
      if (t < kSources) {
        stored.report.input_rows = rows[t];
        stored.report.watermark = watermarks[t];
      }
      c.acknowledge(std::move(stored));
    }
    // Retention runs in the background; the next batch waits for it.
    ASSERT_TRUE(c.wait_for_background_work(std::chrono::seconds(10)));
  }

  std::vector<std::string> progress_lines() const {
    std::vector<std::string> lines;
    std::string all = testing::read_file(log_.progress_file());
    size_t at = 0;
    while (at < all.size()) {
      size_t end = all.find('\n', at);
      lines.push_back(all.substr(at, end - at));
      at = end + 1;
    }
    return lines;
  }

  TempDir dir_;
  BatchLog log_{dir_.path() + "/job"};
  ManualClock clock_{1000};
  std::vector<std::unique_ptr<RecordingMailbox>> tasks_;
};

TEST_F(BatchCoordinatorTest, PlansLogsRunsAndCommitsEachBatch) {
  BatchConfig batches;
  batches.max_records = 10;
  auto c = start(batches);
  c->tick();
  for (size_t t = 0; t < kSources; ++t) {
    ASSERT_EQ(tasks_[t]->kinds(), std::vector<MailKind>{MailKind::kPlanBatch});
    EXPECT_EQ(tasks_[t]->last().checkpoint, 1);
    EXPECT_EQ(tasks_[t]->last().max_records, 10u);
  }
  EXPECT_TRUE(tasks_[2]->mails.empty()) << "only sources plan";

  clock_.advance(3);
  answer(*c, 1, {0, 0, 0, 0}, {10, 10, 5, 0}, {40, 10, 5, 0});
  std::optional<BatchPlan> plan = log_.read_plan(1);
  ASSERT_TRUE(plan);
  ASSERT_EQ(plan->sources.size(), 1u);
  EXPECT_EQ(plan->sources[0].source, "events");
  std::vector<SplitSlice> expected{slice(0, 0, 10, 40), slice(1, 0, 10, 10), slice(2, 0, 5, 5),
                                   slice(3, 0, 0, 0)};
  EXPECT_EQ(plan->sources[0].slices, expected);
  for (size_t t = 0; t < kSources; ++t) {
    ASSERT_EQ(tasks_[t]->last().kind, MailKind::kRunBatch);
    EXPECT_EQ(*tasks_[t]->last().slices, expected) << "every subtask gets the source's slices";
    EXPECT_EQ(tasks_[t]->plan_logged_before_run, std::vector<bool>{true});
  }

  clock_.advance(20);
  acknowledge_all(*c, 1, {20, 5}, {700, 500});
  EXPECT_EQ(c->last_completed(), 1);
  EXPECT_TRUE(log_.committed(1));
  EXPECT_TRUE(fs::exists(dir_.path() + "/job/chk-1/_metadata"));
  for (const auto& task : tasks_) EXPECT_EQ(task->last().kind, MailKind::kCheckpointComplete);
  std::vector<std::string> progress = progress_lines();
  ASSERT_EQ(progress.size(), 1u);
  EXPECT_NE(progress[0].find(R"("batch":1,"replayed":false)"), std::string::npos) << progress[0];
  EXPECT_NE(progress[0].find(R"("input_rows":25,)"), std::string::npos) << progress[0];
  EXPECT_NE(progress[0].find(R"("sources":[{"name":"events","input_rows":25}])"),
            std::string::npos);
  EXPECT_NE(progress[0].find(R"("planning":3,"processing":20,)"), std::string::npos) << progress[0];
  EXPECT_NE(progress[0].find(R"("watermark_ms":500,)"), std::string::npos) << progress[0];

  c->tick();  // back to back: the next batch is planned at once
  EXPECT_EQ(tasks_[0]->last().kind, MailKind::kPlanBatch);
  EXPECT_EQ(tasks_[0]->last().checkpoint, 2);
}

TEST_F(BatchCoordinatorTest, StaleOrForeignSlicesAreIgnored) {
  auto c = start(BatchConfig{});
  c->tick();
  c->accept_slices(7, 0, {slice(0, 0, 5, 5)}, SourceInput::kOpen, false);  // another batch
  c->accept_slices(1, 2, {slice(0, 0, 5, 5)}, SourceInput::kOpen, false);  // not a source
  c->accept_slices(1, 9, {slice(0, 0, 5, 5)}, SourceInput::kOpen, false);  // no such task
  c->accept_slices(1, 0, {slice(0, 0, 5, 5)}, SourceInput::kOpen, false);
  EXPECT_FALSE(log_.read_plan(1)) << "one source has not answered yet";
  c->accept_slices(1, 0, {slice(0, 0, 9, 9)}, SourceInput::kOpen, false);  // a second answer
  c->accept_slices(1, 1, {}, SourceInput::kOpen, false);
  std::optional<BatchPlan> plan = log_.read_plan(1);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->sources[0].slices, std::vector<SplitSlice>{slice(0, 0, 5, 5)});
}

TEST_F(BatchCoordinatorTest, PlannedBatchesRunAgainAfterARestoreAndAreDroppedOnAFreshStart) {
  for (int64_t id : {3, 4}) {
    log_.write_plan(
        BatchPlan{id, 0, {SourceSlices{"events", {slice(0, id * 10, id * 10 + 10, 99)}}}});
  }
  log_.write_plan(BatchPlan{6, 0, {}});  // after a gap: not a batch to run again
  auto c = start(BatchConfig{}, /*last_checkpoint=*/2, /*resume=*/true);
  c->tick();
  ASSERT_EQ(tasks_[0]->kinds(), std::vector<MailKind>{MailKind::kRunBatch})
      << "a logged batch is not planned again";
  EXPECT_EQ(tasks_[0]->last().checkpoint, 3);
  EXPECT_EQ(*tasks_[0]->last().slices, std::vector<SplitSlice>{slice(0, 30, 40, 99)});
  acknowledge_all(*c, 3, {10, 0}, {kMinTimestamp, kMinTimestamp});
  c->tick();
  EXPECT_EQ(tasks_[0]->last().kind, MailKind::kRunBatch);
  EXPECT_EQ(tasks_[0]->last().checkpoint, 4);
  acknowledge_all(*c, 4, {10, 0}, {kMinTimestamp, kMinTimestamp});
  c->tick();
  EXPECT_EQ(tasks_[0]->last().kind, MailKind::kPlanBatch);
  EXPECT_EQ(tasks_[0]->last().checkpoint, 5);
  EXPECT_NE(progress_lines()[0].find(R"("batch":3,"replayed":true)"), std::string::npos);
  EXPECT_NE(progress_lines()[0].find(R"("watermark_ms":null)"), std::string::npos);

  auto fresh = start(BatchConfig{}, /*last_checkpoint=*/4, /*resume=*/false);
  EXPECT_FALSE(log_.read_plan(6)) << "a fresh start drops plans after its checkpoint";
  EXPECT_TRUE(log_.read_plan(4));
}

TEST_F(BatchCoordinatorTest, AnIntervalTriggerStartsBatchesOnTimeOrRightAfterALongOne) {
  BatchConfig batches;
  batches.trigger = BatchTrigger::kInterval;
  batches.interval = 1000;
  auto c = start(batches);
  c->tick();  // t = 1000: batch 1
  answer(*c, 1, {0, 0, 0, 0}, {1, 1, 1, 1}, {1, 1, 1, 1});
  clock_.advance(300);
  acknowledge_all(*c, 1, {2, 2}, {0, 0});
  EXPECT_EQ(c->next_deadline(), 2000);
  clock_.set(1999);
  c->tick();
  EXPECT_EQ(tasks_[0]->last().kind, MailKind::kCheckpointComplete);
  clock_.set(2000);
  c->tick();
  EXPECT_EQ(tasks_[0]->last().kind, MailKind::kPlanBatch);
  answer(*c, 2, {1, 1, 1, 1}, {2, 2, 2, 2}, {2, 2, 2, 2});
  clock_.set(3500);  // longer than the interval
  acknowledge_all(*c, 2, {2, 2}, {0, 0});
  EXPECT_EQ(c->next_deadline(), 3500);
  c->tick();
  EXPECT_EQ(tasks_[0]->last().checkpoint, 3);
  // Nothing to read: no batch, the next plan at the next interval.
  answer(*c, 3, {2, 2, 2, 2}, {2, 2, 2, 2}, {2, 2, 2, 2});
  EXPECT_FALSE(log_.read_plan(3));
  EXPECT_EQ(c->next_deadline(), 4500);
}

TEST_F(BatchCoordinatorTest, OnceEndsTheJobAfterItsOneBatch) {
  BatchConfig batches;
  batches.trigger = BatchTrigger::kOnce;
  auto c = start(batches);
  c->tick();
  answer(*c, 1, {0, 0, 0, 0}, {50, 50, 50, 50}, {50, 50, 50, 50});
  acknowledge_all(*c, 1, {100, 100}, {0, 0});
  c->tick();
  for (size_t t = 0; t < kSources; ++t) {
    EXPECT_EQ(tasks_[t]->last().kind, MailKind::kEndOfBatches);
  }
  EXPECT_EQ(tasks_[2]->last().kind, MailKind::kCheckpointComplete);
  size_t mails = tasks_[0]->mails.size();
  clock_.advance(10'000);
  c->tick();
  EXPECT_EQ(tasks_[0]->mails.size(), mails) << "nothing after the end";
  EXPECT_EQ(c->next_deadline(), kMaxTimestamp);
}

TEST_F(BatchCoordinatorTest, AvailableNowReadsWhatWasThereAtTheStartInCappedBatches) {
  BatchConfig batches;
  batches.trigger = BatchTrigger::kAvailableNow;
  batches.max_records = 60;
  auto c = start(batches);
  c->tick();
  answer(*c, 1, {0, 0, 0, 0}, {60, 60, 60, 0}, {100, 100, 60, 0});
  acknowledge_all(*c, 1, {120, 60}, {0, 0});
  c->tick();
  // More arrived since the start: still capped at what was there then.
  answer(*c, 2, {60, 60, 60, 0}, {120, 120, 120, 30}, {500, 500, 500, 30});
  std::optional<BatchPlan> plan = log_.read_plan(2);
  ASSERT_TRUE(plan);
  std::vector<SplitSlice> expected{slice(0, 60, 100, 500), slice(1, 60, 100, 500),
                                   slice(2, 60, 60, 500), slice(3, 0, 0, 30)};
  EXPECT_EQ(plan->sources[0].slices, expected);
  acknowledge_all(*c, 2, {80, 0}, {0, 0});
  c->tick();
  answer(*c, 3, {100, 100, 60, 0}, {160, 160, 120, 30}, {500, 500, 500, 30});
  EXPECT_FALSE(log_.read_plan(3));
  EXPECT_EQ(tasks_[0]->last().kind, MailKind::kEndOfBatches);
}

TEST_F(BatchCoordinatorTest, AnEndingSourceGetsABatchAndTheJobEndsOnceAllEnded) {
  auto c = start(BatchConfig{});
  c->tick();
  answer(*c, 1, {5, 5, 5, 5}, {5, 5, 5, 5}, {5, 5, 5, 5}, SourceInput::kEnding);
  ASSERT_TRUE(log_.read_plan(1)) << "an ending source needs a batch to end its event time in";
  acknowledge_all(*c, 1, {0, 0}, {kMaxTimestamp, kMaxTimestamp});
  c->tick();
  answer(*c, 2, {5, 5, 5, 5}, {5, 5, 5, 5}, {5, 5, 5, 5}, SourceInput::kEnded);
  EXPECT_FALSE(log_.read_plan(2));
  EXPECT_EQ(tasks_[0]->last().kind, MailKind::kEndOfBatches);
  EXPECT_EQ(tasks_[1]->last().kind, MailKind::kEndOfBatches);
}

// Spark's no-data batches: a plan that reads nothing runs all the same when
// a source's watermark would move (a split went idle), so windows fire;
// otherwise nothing runs until there is data.
TEST_F(BatchCoordinatorTest, ABatchWithoutDataRunsWhenAWatermarkWouldMove) {
  auto c = start(BatchConfig{});
  c->tick();
  answer(*c, 1, {5, 5, 5, 5}, {5, 5, 5, 5}, {5, 5, 5, 5});
  EXPECT_FALSE(log_.read_plan(1)) << "nothing to read, no watermark to move";
  EXPECT_EQ(tasks_[0]->last().kind, MailKind::kPlanBatch);

  clock_.advance(1000);
  c->tick();
  ASSERT_EQ(tasks_[0]->last().kind, MailKind::kPlanBatch);
  int64_t batch = tasks_[0]->last().checkpoint;
  answer(*c, batch, {5, 5, 5, 5}, {5, 5, 5, 5}, {5, 5, 5, 5}, SourceInput::kOpen,
         /*watermark_moves=*/true);
  std::optional<BatchPlan> plan = log_.read_plan(batch);
  ASSERT_TRUE(plan) << "a batch without data runs to move the watermark";
  EXPECT_FALSE(plan->reads_anything());
  for (size_t t = 0; t < kSources; ++t) EXPECT_EQ(tasks_[t]->last().kind, MailKind::kRunBatch);
}

// A savepoint in micro-batch mode is the next batch, run even when it reads
// nothing; its barrier carries the savepoint's kind, and a stop's savepoint
// ends the job once committed.
TEST_F(BatchCoordinatorTest, ASavepointIsTheNextBatchAndAStopEndsTheJob) {
  auto c = start(BatchConfig{});
  uint64_t request = c->request_savepoint(CheckpointKind::kStopSavepoint, dir_.path() + "/sp");
  c->tick();
  answer(*c, 1, {5, 5, 5, 5}, {5, 5, 5, 5}, {5, 5, 5, 5});
  ASSERT_TRUE(log_.read_plan(1)) << "the savepoint's batch runs without data";
  for (size_t t = 0; t < kSources; ++t) {
    ASSERT_EQ(tasks_[t]->last().kind, MailKind::kRunBatch);
    EXPECT_EQ(tasks_[t]->last().checkpoint_kind, CheckpointKind::kStopSavepoint);
  }
  EXPECT_FALSE(c->savepoint_result(request).done());
  acknowledge_all(*c, 1, {0, 0}, {700, 500});
  EXPECT_TRUE(log_.committed(1));
  CheckpointCoordinator::SavepointResult result = c->savepoint_result(request);
  EXPECT_EQ(result.error, "");
  EXPECT_EQ(result.path, dir_.path() + "/sp/savepoint-job-1");
  EXPECT_TRUE(fs::exists(result.path + "/_metadata"));
  for (const auto& task : tasks_) {
    EXPECT_EQ(task->last().kind, MailKind::kFinalCheckpointComplete) << "the stop ends the job";
  }
  EXPECT_TRUE(c->final_checkpoint_completed());
  c->tick();
  EXPECT_EQ(tasks_[0]->last().kind, MailKind::kFinalCheckpointComplete) << "no batch after it";
}

TEST_F(BatchCoordinatorTest, ABatchThatTimesOutFailsTheAttemptAndStartsNothingMore) {
  auto c = start(BatchConfig{});
  c->tick();
  answer(*c, 1, {0, 0, 0, 0}, {1, 1, 1, 1}, {1, 1, 1, 1});
  EXPECT_TRUE(c->failure().empty());
  clock_.advance(4999);
  c->tick();
  EXPECT_TRUE(c->failure().empty());
  clock_.advance(1);
  c->tick();
  EXPECT_EQ(c->failure(), "batch 1 timed out after 5s");
  size_t mails = tasks_[0]->mails.size();
  acknowledge_all(*c, 1, {1, 1}, {0, 0});
  clock_.advance(10'000);
  c->tick();
  EXPECT_EQ(tasks_[0]->mails.size(), mails);
  EXPECT_FALSE(log_.committed(1)) << "the batch runs again after the restart";
  EXPECT_EQ(c->trigger_now(), 0) << "batches are the only checkpoints";
}

TEST(BatchLog, CorruptPlanIsAnInputErrorNamingTheFile) {
  TempDir dir;
  BatchLog log(dir.path());
  log.write_plan(BatchPlan{1, 0, {}});
  std::string path = log.offsets_dir() + "/1";
  std::string bytes = testing::read_file(path);
  bytes[bytes.size() - 1] ^= 1;
  testing::write_file(path, bytes);
  try {
    log.read_plan(1);
    FAIL() << "a corrupt plan was read";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sluice
