// The checkpoint coordinator in continuous mode, driven by hand with a
// manual clock and mailboxes that record their mails: final checkpoints,
// and retention that runs off the caller's thread and outside the lock.
#include "runtime/coordinator/coordinator.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/core/fault_injection.h"
#include "tests/process_runner.h"
#include "tests/recording_mailbox.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
using testing::RecordingMailbox;
using testing::TempDir;

// A source task (0) and a sink task (1), a checkpoint every 100 ms.
class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CheckpointConfig config;
    config.directory = dir_.path();
    config.interval = 100;
    config.retained = 1;
    coordinator_ =
        std::make_unique<CheckpointCoordinator>(config, "job", 128, KeyHashing::kXxh3, 0, clock_);
    coordinator_->attach(&source_, "numbers");
    coordinator_->attach(&sink_, "");
  }
  void TearDown() override { fault::disarm_all(); }

  // Both tasks acknowledge `id`; `ended`: their parts were taken after
  // their input ended. Task 0 stores a shared file named after `id`.
  void acknowledge_all(int64_t id, bool ended) {
    for (size_t task = 0; task < 2; ++task) {
      StoredSnapshot stored;
      stored.id = id;
      stored.task = task;
      stored.report.input_ended = ended;
      StoredOperatorState state{task == 0 ? "numbers" : "sink", 1, {}};
      if (task == 0) {
        std::string shared = std::to_string(id) + ".sst";
        testing::write_file(coordinator_->storage().shared_dir() + "/" + shared, "sst");
        state.handle.shared_files.push_back(shared);
      }
      stored.operators.push_back(state);
      coordinator_->acknowledge(std::move(stored));
    }
  }

  TempDir dir_;
  ManualClock clock_{1000};
  RecordingMailbox source_;
  RecordingMailbox sink_;
  std::unique_ptr<CheckpointCoordinator> coordinator_;
};

TEST_F(CoordinatorTest, CheckpointsGoOnAfterATaskEndedAndTheFinalOneEndsTheJob) {
  clock_.advance(100);
  coordinator_->tick();
  ASSERT_EQ(source_.kinds(), std::vector<MailKind>{MailKind::kTriggerCheckpoint});
  coordinator_->input_ended(0);  // the source ended after its part of 1
  acknowledge_all(1, /*ended=*/false);
  EXPECT_EQ(sink_.kinds().back(), MailKind::kCheckpointComplete);
  EXPECT_FALSE(coordinator_->final_checkpoint_completed());

  // Checkpoints go on while the sink still runs, at the interval.
  ASSERT_TRUE(coordinator_->wait_for_background_work(std::chrono::seconds(10)));
  coordinator_->tick();
  EXPECT_EQ(source_.triggers(), 1u) << "a checkpoint started before its time";
  clock_.advance(100);
  coordinator_->tick();
  ASSERT_EQ(source_.kinds().back(), MailKind::kTriggerCheckpoint);
  // The source's part is final, the sink's not yet: 2 is no final checkpoint.
  StoredSnapshot source_part;
  source_part.id = 2;
  source_part.task = 0;
  source_part.report.input_ended = true;
  coordinator_->acknowledge(std::move(source_part));
  StoredSnapshot sink_part;
  sink_part.id = 2;
  sink_part.task = 1;
  coordinator_->acknowledge(std::move(sink_part));
  EXPECT_EQ(sink_.kinds().back(), MailKind::kCheckpointComplete);

  // Every input ended: the next checkpoint starts at once, and it is final.
  coordinator_->input_ended(1);
  EXPECT_LE(coordinator_->next_deadline(), clock_.now_ms());
  ASSERT_TRUE(coordinator_->wait_for_background_work(std::chrono::seconds(10)));
  coordinator_->tick();
  ASSERT_EQ(source_.kinds().back(), MailKind::kTriggerCheckpoint);
  EXPECT_EQ(source_.mails.back().checkpoint, 3);
  acknowledge_all(3, /*ended=*/true);
  EXPECT_EQ(sink_.kinds().back(), MailKind::kFinalCheckpointComplete);
  EXPECT_TRUE(coordinator_->final_checkpoint_completed());
  EXPECT_EQ(coordinator_->last_completed(), 3);
  // Its probe counted them, as a registry lists it by name.
  MetricRegistry registry;
  coordinator_->probe().register_in(registry);
  std::map<std::string, double> metrics;
  for (const MetricSample& sample : registry.collect()) metrics[sample.name] = sample.value;
  EXPECT_EQ(metrics.at("checkpoint_completed"), 3);
  EXPECT_EQ(metrics.at("checkpoint_aborted"), 0);
  EXPECT_EQ(metrics.at("checkpoint_last_id"), 3);
  registry.remove(&coordinator_->probe());
  EXPECT_TRUE(registry.collect().empty());
  // Nothing more starts, and a task that ends now is no failure.
  clock_.advance(1000);
  coordinator_->tick();
  coordinator_->task_finished(0);
  EXPECT_EQ(source_.kinds().back(), MailKind::kFinalCheckpointComplete);
}

// Retention runs on the coordinator's own thread without its lock: while a
// pass is held inside, acknowledgements and ticks return, and no checkpoint
// starts (its shared files would be named by no metadata yet).
TEST_F(CoordinatorTest, RetentionRunsOffTheCallersThreadAndHoldsBackTheNextCheckpoint) {
  fault::arm_point("checkpoint.retention", fault::PointAction::kBlock);
  clock_.advance(100);
  coordinator_->tick();
  acknowledge_all(1, false);  // completes 1 and starts retention
  ASSERT_TRUE(fault::wait_until_blocked("checkpoint.retention", std::chrono::seconds(10)));
  EXPECT_EQ(coordinator_->last_completed(), 1);
  clock_.advance(100);
  coordinator_->tick();  // returns: the lock is free
  EXPECT_EQ(source_.triggers(), 1u) << "a checkpoint started during retention";
  fault::release("checkpoint.retention");
  ASSERT_TRUE(coordinator_->wait_for_background_work(std::chrono::seconds(10)));
  coordinator_->tick();
  ASSERT_EQ(source_.triggers(), 2u) << "no checkpoint started after retention";
  acknowledge_all(2, false);
  // With one checkpoint retained, 1 and its shared file go once 2 is in.
  ASSERT_TRUE(coordinator_->wait_for_background_work(std::chrono::seconds(10)));
  EXPECT_FALSE(fs::exists(dir_.file("job/chk-1")));
  EXPECT_FALSE(fs::exists(dir_.file("job/shared/1.sst")));
  EXPECT_TRUE(fs::exists(dir_.file("job/shared/2.sst")));
}

}  // namespace
}  // namespace sluice
