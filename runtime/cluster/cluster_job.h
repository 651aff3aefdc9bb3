// A job as the job manager runs it: its options and layout, the current
// attempt (placement, checkpoint coordinator, task states), restarts under
// the job's restart strategy, and the clients waiting for its end.
//
// States: waiting (for its first deployment, a restart delay, slots, or
// task managers still stopping the last attempt) -> running -> finished |
// failed | cancelled. A failed attempt goes back to waiting when its
// failure is retryable and the restart strategy allows another attempt; the
// next attempt restores the latest complete checkpoint (or what the job was
// submitted to restore, when it has none yet).
//
// Threading: every method runs under the job manager's lock; the
// coordinator it owns posts mails by sending messages, never blocking.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "runtime/cli/run_options.h"
#include "runtime/cluster/alignment_board.h"
#include "runtime/cluster/cluster.pb.h"
#include "runtime/cluster/rpc.h"
#include "runtime/cluster/scheduler.h"
#include "runtime/coordinator/checkpoint_history.h"
#include "runtime/coordinator/coordinator.h"
#include "runtime/graph/execution_plan.h"
#include "runtime/metrics/task_rates.h"

namespace sluice {

enum class JobState { kWaiting, kRunning, kFinished, kFailed, kCancelled };
const char* job_state_name(JobState state);

// A failure that ended one of a job's attempts.
struct JobException {
  Timestamp at = 0;
  int attempt = 0;
  std::string task_manager;  // where it happened, when known
  std::string message;
  ErrorKind kind = ErrorKind::kInternal;
};

// What a job needs from the job manager.
class ClusterView {
 public:
  virtual ~ClusterView() = default;
  // Free slots per live task manager.
  virtual std::vector<SlotOffer> free_slots() const = 0;
  // The connection and data address of a live task manager, or null.
  virtual std::shared_ptr<ControlConnection> connection(const std::string& task_manager) const = 0;
  virtual pb::Peer peer(const std::string& task_manager) const = 0;
  // Records the job in checkpoint storage, durably, so a restarted job
  // manager resumes it. Throws ExternalError when it cannot.
  virtual void persist(const pb::StoredJob& job) = 0;
};

class ClusterJob {
 public:
  using Clock = std::chrono::steady_clock;
  // Throws UsageError when the job's topology or options are invalid.
  ClusterJob(std::string id, uint32_t number, pb::JobSpec spec, const std::string& default_root,
             ClusterView& cluster);
  ~ClusterJob();

  // Records the job (ClusterView::persist); throws ExternalError when it
  // cannot, and the submission must then fail.
  void record();
  // Resumes a job a previous job manager ran (attempt `attempt`).
  void resume_after(int attempt);

  // Deploys when waiting and possible; ticks the coordinator; answers
  // checkpoint requests.
  void step();
  void on_task_status(const std::string& task_manager, const pb::TaskStatus& status);
  void on_checkpoint_ack(const std::string& task_manager, const pb::CheckpointAck& ack);
  void on_batch_slices(const std::string& task_manager, const pb::BatchSlices& slices);
  // A heartbeat's counters of one of the job's tasks on `task_manager`.
  void on_task_metrics(const std::string& task_manager, const pb::TaskMetrics& metrics);
  void on_attempt_metrics(const std::string& task_manager, const pb::AttemptMetrics& metrics);
  // `hold_off`: the next attempt starts no sooner than this from now (a
  // silent task manager may still be running until it fences itself).
  void on_task_manager_lost(const std::string& task_manager, const std::string& reason,
                            DurationMs hold_off);
  void cancel();
  // Starts a checkpoint for `client`, who gets its path or an error.
  void request_checkpoint(const std::shared_ptr<ControlConnection>& client);
  // Starts a checkpoint now; returns its id, or 0 with `why` saying why not.
  int64_t trigger_checkpoint(std::string& why);
  // Stop with drain: every source ends its input now with the maximum
  // watermark, so every window fires and every timer runs; the final
  // checkpoint commits the sinks and the job finishes. False with `why`
  // when the job cannot drain (not running, no checkpoints, micro-batch).
  // With `savepoint_dir`, the final checkpoint is also a savepoint there.
  // `client`, if any, gets the job's status at its end, or an error when
  // the drain will not happen (its attempt failed first).
  bool drain(std::string& why, const std::string& savepoint_dir = "",
             const std::shared_ptr<ControlConnection>& client = nullptr);
  // A savepoint (runtime/operator/checkpoint_kind.h) into `directory`
  // (empty: the job's default, <checkpoint root>/savepoints); `client`, if
  // any, gets its path or an error. Returns the request's number for
  // savepoint_outcome(), or 0 with `why` when the job cannot take one now.
  uint64_t request_savepoint(const std::string& directory,
                             const std::shared_ptr<ControlConnection>& client, std::string& why);
  // What became of savepoint request `request`: nullopt for an unknown
  // one, a result that is not done() while it is in flight.
  std::optional<CheckpointCoordinator::SavepointResult> savepoint_outcome(uint64_t request) const;
  // Stop without drain: the sources stop, a savepoint commits the sinks,
  // and the job finishes with status().savepoint() naming it; `client`, if
  // any, gets that status. When the savepoint fails the attempt restarts,
  // the job goes on, and `client` gets an error. False with `why` when the
  // job cannot stop so now.
  bool stop_with_savepoint(const std::string& directory,
                           const std::shared_ptr<ControlConnection>& client, std::string& why);
  // Rescaling a running job: a stop with a savepoint, after which the job
  // resumes from it at `parallelism` (its next attempt). `client`, if any,
  // hears once every task of that attempt runs (a JobStatus "running"
  // saying how long the job did not process), or that it failed.
  bool rescale(int parallelism, const std::shared_ptr<ControlConnection>& client, std::string& why);
  void add_waiter(const std::shared_ptr<ControlConnection>& client);

  const std::string& id() const { return id_; }
  uint32_t number() const { return number_; }
  JobState state() const { return state_; }
  bool ended() const { return state_ >= JobState::kFinished; }
  // Slots the job holds on `task_manager`: its running attempt's, or a
  // stopped attempt's until the task manager reported it stopped.
  int slots_on(const std::string& task_manager) const;
  // Watermark alignment: the heartbeat's report of `task_manager` in, the
  // other task managers' minimum out (runtime/cluster/alignment_board.h).
  AlignmentBoard& alignment() { return alignment_; }
  pb::JobInfo info() const;
  // What waiting clients receive when the job ends.
  pb::JobStatus status() const;

  // For the REST API and the dashboard (runtime/cluster/job_views.h).
  const pb::JobSpec& spec() const { return spec_; }
  const RunOptions& options() const { return options_; }
  const ExecutionPlan& layout() const { return layout_; }
  const std::string& message() const { return message_; }
  int attempt() const { return attempt_; }
  int restarts() const { return restarts_; }
  int64_t last_checkpoint() const { return last_checkpoint_; }
  Timestamp submitted_at() const { return submitted_at_; }
  Timestamp ended_at() const { return ended_at_; }  // 0 while it has not ended
  // The task manager running task `task` of the current attempt (or that
  // ran it last), "" before the first deployment.
  std::string task_manager_of(size_t task) const;
  const CheckpointHistory& history() const { return *history_; }
  const std::deque<JobException>& exceptions() const { return exceptions_; }  // newest first
  // The current attempt's tasks' rates, by task number (those reported).
  const std::map<size_t, TaskRateTracker>& task_rates() const { return task_rates_; }
  // Where task `task` of the current attempt stands: "deploying", "running",
  // "finished", or the job's state when no attempt runs.
  std::string task_status(size_t task) const;
  // The current attempt's late records dropped and records skipped, over
  // its task managers.
  uint64_t late_dropped() const { return summed(&pb::AttemptMetrics::late_dropped); }
  uint64_t skipped_records() const { return summed(&pb::AttemptMetrics::skipped_records); }
  // The coordinator's metrics of the running attempt (null between attempts).
  const CheckpointProbe* checkpoint_probe() const {
    return coordinator_ ? &coordinator_->probe() : nullptr;
  }
  static constexpr size_t kExceptionsKept = 50;

 private:
  void deploy(const std::vector<std::string>& owners);
  // What an attempt resumes: a checkpoint's directory (empty for none), its
  // id (0 for none), and the key hashing the job goes on with.
  struct RestoreChoice {
    std::string path;
    int64_t checkpoint = 0;
    KeyHashing key_hashing = KeyHashing::kXxh3;
  };
  RestoreChoice restore_for_attempt();
  // Throws UsageError when `metadata` holds state of operators this
  // topology lacks, unless --allow-non-restored-state.
  void check_restorable(const CheckpointMetadata& metadata, const std::string& where) const;
  void start_coordinator(const RestoreChoice& restore);
  // Drops the attempt's coordinator, keeping its counts.
  void release_coordinator();
  void send_deployment(const std::vector<std::string>& owners, const std::string& restore_path,
                       int64_t last_checkpoint);
  // `lost`: the task manager that was lost (nothing to cancel there);
  // `where`: where the failure happened, for the exception history.
  void fail_attempt(ErrorKind kind, const std::string& message, const std::string& lost = "",
                    const std::string& where = "");
  void note_exception(ErrorKind kind, const std::string& message, const std::string& where);
  // A counter of the current attempt, summed over its task managers.
  uint64_t summed(uint64_t (pb::AttemptMetrics::*counter)() const) const;
  void stop_attempt(const std::string& lost);
  void end(JobState state, const std::string& message);
  void answer_checkpoint_requests();
  void refuse_checkpoint_requests(const std::string& why);
  // Task `task` of the current attempt runs on `task_manager`.
  bool runs_on(size_t task, const std::string& task_manager) const;

  std::string id_;
  uint32_t number_;
  pb::JobSpec spec_;
  RunOptions options_;
  ClusterView& cluster_;
  ExecutionPlan layout_;  // every task, none built
  JobState state_ = JobState::kWaiting;
  std::string message_;
  ErrorKind error_kind_ = ErrorKind::kInternal;
  int64_t checkpoints_completed_ = 0;  // by the last attempt
  int attempt_ = -1;
  int restarts_ = 0;
  Clock::time_point not_before_ = Clock::now();
  std::vector<std::string> slot_owner_;  // of the current or last attempt
  bool attempt_stopped_ = false;
  std::set<size_t> started_;
  std::set<size_t> finished_;
  bool all_running_logged_ = false;
  std::optional<Clock::time_point> attempt_failed_at_;  // when this job manager saw it
  std::set<std::string> stopping_;  // task managers still stopping the last attempt
  std::unique_ptr<CheckpointCoordinator> coordinator_;
  std::vector<std::unique_ptr<TaskMailbox>> mailboxes_;
  std::set<int64_t> aborted_;
  AlignmentBoard alignment_;
  int64_t last_checkpoint_ = 0;
  struct CheckpointRequest {
    int64_t id = 0;
    std::shared_ptr<ControlConnection> client;
    uint64_t savepoint = 0;  // the coordinator's savepoint request, 0 for a checkpoint
    uint64_t number = 0;     // the savepoint request's number in this job
  };
  // The newest savepoint requests' outcomes, by number.
  std::map<uint64_t, CheckpointCoordinator::SavepointResult> savepoint_outcomes_;
  uint64_t savepoints_requested_ = 0;
  static constexpr size_t kSavepointOutcomesKept = 50;
  void note_savepoint_outcome(uint64_t number, CheckpointCoordinator::SavepointResult result);
  // Why no savepoint can start now, or empty.
  std::string savepoint_refusal() const;
  std::string savepoint_dir_or_default(const std::string& directory) const;
  // The stop's (or drain's) savepoint, when it has an outcome.
  void track_ending_savepoint();
  uint64_t ending_savepoint_ = 0;  // the coordinator's request, 0 for none
  std::string ending_savepoint_path_;
  std::vector<std::shared_ptr<ControlConnection>> stop_clients_;
  // A rescale: the parallelism to resume at once the stop completed, when
  // it was asked for, and the clients waiting for the resumed attempt.
  int rescale_to_ = 0;
  Clock::time_point rescale_asked_at_;
  std::vector<std::shared_ptr<ControlConnection>> rescale_clients_;
  // The stop of a rescale completed: the next attempt runs at rescale_to_.
  void resume_rescaled();
  void report_rescaled();
  void end_finished_attempt();
  // A stop, drain or rescale that will not happen: its clients hear why.
  void abandon_stop(const std::string& why);
  std::string rescaled_from_;  // the savepoint the last rescale resumed
  bool draining_ = false;      // a drain was sent to the current attempt
  std::string default_root_;
  std::vector<CheckpointRequest> checkpoint_requests_;
  std::vector<std::shared_ptr<ControlConnection>> waiters_;
  Timestamp submitted_at_;
  Timestamp ended_at_ = 0;
  std::shared_ptr<CheckpointHistory> history_ = std::make_shared<CheckpointHistory>();
  std::deque<JobException> exceptions_;
  std::map<size_t, TaskRateTracker> task_rates_;
  std::map<std::string, pb::AttemptMetrics> attempt_counters_;  // by task manager
};

}  // namespace sluice
