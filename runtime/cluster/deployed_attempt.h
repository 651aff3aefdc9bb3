// One deployment on a task manager: the job's graph built from its topology
// and options, its tasks in this task manager's slots (as a TaskAttempt),
// and the checkpoint side of a task manager: snapshots are stored by a
// SnapshotWriter here and acknowledged to the job manager by message, and
// finished tasks are reported so the coordinator stops expecting them.
//
// Threading: constructed, started, finished and destroyed on the task
// manager's main thread; post_mail() from the RPC thread; the
// CheckpointParticipation calls come from task threads and the writer
// thread, and only send messages. Lifecycle: construct (builds the plan and
// registers remote channels) -> start -> (done() | cancel) -> stop() ->
// destroy.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "runtime/checkpoint/restore.h"
#include "runtime/checkpoint/snapshot_writer.h"
#include "runtime/cluster/cluster.pb.h"
#include "runtime/executor/task_attempt.h"
#include "runtime/job/job_setup.h"
#include "runtime/job/state_dir.h"

namespace sluice {

// The job options a deployment carries, as every process parses them: the
// topology, the submitted arguments, and the checkpoint storage the job
// manager chose.
RunOptions job_run_options(const pb::JobSpec& spec, const std::string& checkpoint_root);

class DeployedAttempt final : public CheckpointParticipation {
 public:
  using Send = std::function<void(const pb::Envelope&)>;
  // Throws SluiceError when the job cannot be built here.
  DeployedAttempt(const pb::DeployTasks& deploy, const std::string& self,
                  RemoteChannelRegistry& remote, Send send);
  ~DeployedAttempt() override;

  // Starts the tasks and reports them running; `on_done` runs on a task
  // thread once they all stopped.
  void start(std::function<void()> on_done);
  // Fails the attempt when it exchanges data with task manager `peer`.
  void fail_if_peer(const std::string& peer, const std::string& message);
  // Every task of this attempt here has stopped.
  bool done() { return tasks_->wait_all_done(std::chrono::milliseconds(0)); }
  // Done, and either failed or with every channel empty: what finished
  // tasks wrote for other task managers has been sent.
  bool can_end();
  // Cancels (unless done), joins the tasks and forgets the remote channels.
  void stop();
  // After done(): reports the outcome to the job manager.
  void report_outcome();

  // A checkpoint mail for the job's task number `task`.
  void post_mail(int task, const pb::CheckpointMail& mail);

  // Adds the counters of every task here, and the attempt's own, to a
  // heartbeat (any thread).
  void report_task_metrics(pb::Heartbeat& heartbeat) const;
  // The job's task number `task` (any task of the job, here or not).
  const PlannedTask& planned_task(size_t task) const { return tasks_->plan().all_tasks.at(task); }

  const std::string& job() const { return job_; }
  std::shared_ptr<const JobMetrics> metrics() const { return tasks_->shared_metrics(); }
  int attempt() const { return attempt_; }
  // The attempt's aligned sources here (null: not aligned, or none here).
  WatermarkAlignmentGroup* watermark_alignment() const {
    return tasks_->plan().watermark_alignment.get();
  }

  // CheckpointParticipation
  void submit_snapshot(int64_t id, size_t task, std::vector<OperatorSnapshotBytes> operators,
                       const SnapshotReport& report) override;
  void submit_slices(int64_t batch, size_t task, std::vector<SplitSlice> slices, SourceInput input,
                     bool watermark_moves) override;
  void input_ended(size_t task) override;
  void task_finished(size_t task) override;

 private:
  void send_status(size_t task, pb::TaskState state, const std::string& message = "",
                   ErrorKind kind = ErrorKind::kInternal);
  void acknowledge(StoredSnapshot&& stored);

  std::string job_;
  std::string self_;
  std::vector<std::string> slot_owner_;
  int attempt_;
  uint32_t job_number_;
  RemoteChannelRegistry& remote_;
  Send send_;
  RunOptions options_;
  JobDefinition definition_;
  std::optional<RestorePoint> restore_;
  JobStateDirectory state_dir_;
  std::unique_ptr<SnapshotWriter> writer_;  // with checkpoints
  std::unique_ptr<TaskAttempt> tasks_;
  bool stopped_ = false;
};

}  // namespace sluice
