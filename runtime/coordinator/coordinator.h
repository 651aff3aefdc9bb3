// The checkpoint coordinator of one job run (design section 7).
//
// Every `interval` it starts checkpoint N: it prepares N's directory and
// posts a trigger to every source task. Sources snapshot and emit barrier N;
// tasks align their inputs on it, snapshot and pass it on. Each task's
// snapshot is stored off its thread (runtime/checkpoint/snapshot_writer.h)
// and acknowledged here. With every task acknowledged, the coordinator
// writes N's metadata, tells every task N is complete (two-phase sinks
// commit then) and drops checkpoints beyond the retained ones. A checkpoint
// that times out or fails to store is aborted and the job goes on. At most
// one checkpoint is in flight. Tasks may live in this process or in task
// managers: the coordinator sees them only as mailboxes.
//
// Final checkpoints (design section 13, Flink's FLIP-147): checkpoints go
// on while tasks finish their input; a finished task stays, takes part in
// every checkpoint with its final state, and waits. A checkpoint in which
// every task's part was taken after its input ended is the job's final
// one: its completion (kFinalCheckpointComplete) commits the sinks' last
// output and ends the tasks. Once every task's input ended, the next
// checkpoint starts at once instead of after the interval; when three fail
// in a row, failure() ends the attempt (a restart tries again).
//
// Micro-batch mode (design section 10): the coordinator runs the job as
// batches instead. At each trigger it asks every source task for its
// splits' slices (kPlanBatch), caps them, writes the plan to the offset log
// (runtime/checkpoint/batch_log.h) and hands the slices out (kRunBatch).
// Sources read exactly their slices, advance the watermark and emit the
// batch's barrier; batch N is checkpoint N and commits when it completes,
// with a commit record and a progress line. After a restore, planned
// batches that did not commit run again with their logged slices. A batch
// that cannot complete fails the attempt (failure()), since its slices must
// run again as they were planned. `--trigger once` and `available-now`
// end the job with kEndOfBatches once their input is committed.
//
// Savepoints (runtime/operator/checkpoint_kind.h): a requested savepoint
// starts as soon as no checkpoint is in flight. It is a checkpoint of the
// job like the others (it commits the sinks, and a restart may resume it),
// taken with every state in the portable form, so nothing in it refers to
// the shared area; once complete, its directory is copied to the requested
// place, where it can be moved and restored by any job. A stop savepoint
// ends the job like a final checkpoint (kFinalCheckpointComplete); when it
// fails, failure() fails the attempt, whose restart resumes the job. The
// copy runs on the coordinator's background thread, not under its lock:
// savepoint_result() has the outcome once the copy is done. A request is
// answered once; request_savepoint(), savepoint_result() and
// take_final_savepoint_into() may be called from any thread.
//
// Retention (keeping the newest checkpoints, deleting what no kept one
// references) and the removal of aborted checkpoints run on a thread of the
// coordinator's own (BackgroundWork), outside its lock; no checkpoint
// starts while a retention pass runs, since a checkpoint in progress
// references shared files that no metadata names yet.
//
// Threading: tick(), prepare_batches() and trigger_now() on the owner's
// thread; acknowledge(), accept_slices(), input_ended() and task_finished()
// from any thread. All state is behind one mutex; mails are posted under
// it, so a mailbox must not call back. Lifecycle: construct -> attach tasks
// -> tick* -> destroy (waits for a retention pass in progress).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "runtime/checkpoint/background_work.h"
#include "runtime/checkpoint/batch_log.h"
#include "runtime/checkpoint/checkpoint_config.h"
#include "runtime/checkpoint/snapshot_writer.h"
#include "runtime/checkpoint/storage.h"
#include "runtime/coordinator/checkpoint_history.h"
#include "runtime/coordinator/checkpoint_probe.h"
#include "runtime/core/clock.h"
#include "runtime/operator/source.h"
#include "runtime/task/mailbox.h"
#include "state/snapshot.h"

namespace sluice {

class CheckpointCoordinator {
 public:
  // `max_parallelism` and `key_hashing` are the job's key groups, which
  // every checkpoint's metadata records.
  CheckpointCoordinator(CheckpointConfig config, std::string job, int max_parallelism,
                        KeyHashing key_hashing, int64_t last_checkpoint_id, const Clock& clock);
  ~CheckpointCoordinator();

  // Registers a task; source tasks (`source`: the name of the task's source
  // operator, empty for other tasks) receive triggers. Returns its index.
  size_t attach(TaskMailbox* task, const std::string& source);

  // Micro-batch mode, once the tasks are attached: `resume` runs every
  // batch planned after the restored checkpoint again, with its logged
  // slices (after a failure or with a restore); otherwise such plans are
  // dropped (a fresh start). Throws InputError for a corrupt plan.
  void prepare_batches(bool resume);

  // Continuous mode: starts a checkpoint when one is due; aborts one that
  // timed out. Micro-batch mode: plans and starts the next batch when it is
  // due, and fails one that timed out.
  void tick();
  // When tick() next has something to do (kMaxTimestamp: never).
  Timestamp next_deadline() const;

  // Starts a checkpoint now, unless one is in flight, the job's tasks can
  // no longer take one, or the job runs batches. Returns its id, or 0.
  int64_t trigger_now();
  // Asks for a savepoint (kSavepoint or kStopSavepoint) into a new
  // directory under `directory`; it starts at the next tick() with no
  // checkpoint in flight. Returns the request's number for
  // savepoint_result().
  uint64_t request_savepoint(CheckpointKind kind, const std::string& directory);
  struct SavepointResult {
    int64_t id = 0;    // once started
    std::string path;  // once complete
    std::string error;
    bool done() const { return !path.empty() || !error.empty(); }
  };
  SavepointResult savepoint_result(uint64_t request) const;
  // With stop with drain: the job's final checkpoint is also a savepoint
  // into a new directory under `directory`. Returns the request's number.
  uint64_t take_final_savepoint_into(const std::string& directory);
  // A task stored its part of checkpoint `stored.id` (or failed to, when
  // `stored.error` is set: the checkpoint aborts). Stale ones are ignored.
  void acknowledge(StoredSnapshot&& stored);
  // A source task's slices for the batch being planned, and where its
  // input stands. Stale ones are ignored.
  // `watermark_moves`: a batch without data would move its watermark.
  void accept_slices(int64_t batch, size_t task, std::vector<SplitSlice> slices, SourceInput input,
                     bool watermark_moves);
  // Task `task` finished its input and waits for the final checkpoint.
  void input_ended(size_t task);
  // A task's thread ended. Before the final checkpoint this means the
  // attempt is going down: no new checkpoints start.
  void task_finished(size_t task);
  // The job's final checkpoint completed.
  bool final_checkpoint_completed() const;
  // Called, under the coordinator's lock, with the id of every aborted
  // checkpoint.
  void on_abort(std::function<void(int64_t)> listener);
  // Micro-batch mode: why the running attempt must fail (a batch that
  // timed out or could not be stored or logged: it has to run again from
  // the last committed batch), or empty.
  std::string failure() const;
  // The directory of checkpoint `id`.
  std::string checkpoint_dir(int64_t id) const { return storage_.checkpoint_dir(id); }
  const CheckpointStorage& storage() const { return storage_; }

  int64_t last_completed() const;
  size_t completed_count() const;
  // Records every checkpoint's (or batch's) progress in `history` from now
  // on; a checkpoint still in flight when the coordinator goes is recorded
  // as failed.
  void record_history_in(std::shared_ptr<CheckpointHistory> history);
  // The coordinator's metrics, to register in the job's registry.
  const CheckpointProbe& probe() const { return probe_; }
  // Waits until retention and checkpoint removals posted so far are done
  // (tests, and owners that want the storage settled); false on timeout.
  bool wait_for_background_work(std::chrono::milliseconds max_wait) {
    return background_.wait_until_idle(max_wait);
  }

 private:
  struct Pending {
    int64_t id = 0;
    Timestamp started_at = 0;
    std::vector<bool> acked;
    // Bytes this checkpoint wrote, and bytes it references in all (with
    // the shared files earlier checkpoints wrote).
    uint64_t bytes_written = 0;
    uint64_t bytes_total = 0;
    DurationMs longest_synchronous = 0;   // over the tasks
    DurationMs longest_alignment = 0;     // over the tasks
    DurationMs longest_asynchronous = 0;  // over the tasks
    size_t acks = 0;
    bool final = true;  // every part so far was taken after its task's input ended
    CheckpointKind kind = CheckpointKind::kCheckpoint;
    std::string savepoint_path;  // where a savepoint goes once complete
    uint64_t savepoint_request = 0;
    CheckpointMetadata metadata;
    // A batch: rows read per source, the lowest source watermark, and when
    // its planning started.
    std::map<std::string, int64_t> input_rows;
    std::optional<Timestamp> watermark;
    Timestamp planning_started_at = 0;
    bool replayed = false;
    std::map<std::string, std::vector<SplitSlice>> slices;  // a batch's plan, by source
  };
  // A batch being planned: each source task's slices, by task index.
  struct Planning {
    int64_t id = 0;
    Timestamp started_at = 0;
    std::vector<std::optional<std::vector<SplitSlice>>> replies;
    std::vector<SourceInput> inputs;
    bool watermark_moves = false;  // at some source
    size_t missing = 0;
  };

  struct SavepointRequest {
    uint64_t number = 0;
    CheckpointKind kind = CheckpointKind::kSavepoint;
    std::string directory;
  };

  Pending make_pending(int64_t id, Timestamp now) const;
  bool start_locked(Timestamp now, const SavepointRequest* savepoint = nullptr);
  // What the next checkpoint is: a requested savepoint (taken from the
  // queue), the final savepoint, or nullopt for a checkpoint.
  std::optional<SavepointRequest> next_savepoint_locked();
  // Makes `p` the savepoint `request` asks for; throws InputError when its
  // directory exists already.
  void set_savepoint_locked(Pending& p, const SavepointRequest& request);
  // Copies complete savepoint `done` to its place on the background
  // thread (before any retention pass that could remove it); its result
  // and history record say where it went once the copy is done.
  void place_savepoint_locked(const Pending& done);
  // `triggered`: the sources took part (a failed stop savepoint then fails
  // the attempt, since they stopped reading); else nothing happened yet.
  void savepoint_failed_locked(const Pending& p, const std::string& why, bool triggered);
  bool all_inputs_ended_locked() const { return input_ended_count_ == tasks_.size(); }
  void complete_locked();
  void abort_locked(const std::string& why);
  void abort_checkpoint_locked(int64_t id, const std::string& why);
  void post_all(Mail mail);
  void post_sources(const Mail& mail);
  void retain_locked();
  // Tells the history where `p` stands.
  void record_locked(const Pending& p, CheckpointStatus status, const std::string& failure = "");
  void remove_checkpoint_dir_locked(int64_t id);
  void record_batch_report(Pending& pending, size_t task, const SnapshotReport& report);

  // Micro-batch mode (coordinator_batches.cc).
  void tick_batches(Timestamp now);
  void plan_batch_locked(Timestamp now);
  void finish_planning_locked(Timestamp now);
  BatchPlan merge_replies_locked(Timestamp now);
  void cap_to_targets_locked(BatchPlan& plan);
  void run_batch_locked(const BatchPlan& plan, Timestamp planning_started, bool replayed);
  void write_commit_record_locked(int64_t id);
  void report_batch_locked(const Pending& done, Timestamp commit_started);
  void end_batches_locked(const std::string& why);
  void fail_batch_locked(const std::string& why);
  Timestamp next_batch_time(Timestamp planning_started) const;

  CheckpointConfig config_;
  CheckpointStorage storage_;
  int max_parallelism_;
  KeyHashing key_hashing_;
  const Clock& clock_;
  std::vector<TaskMailbox*> tasks_;
  std::vector<std::string> source_of_;  // per task; empty: not a source

  mutable std::mutex mutex_;
  std::optional<Pending> pending_;
  int64_t next_id_;
  int64_t last_completed_;
  size_t completed_ = 0;
  CheckpointProbe probe_;
  Timestamp next_trigger_;
  bool stopped_ = false;           // no checkpoint starts any more
  std::vector<bool> input_ended_;  // per task
  size_t input_ended_count_ = 0;
  bool final_completed_ = false;
  int final_failures_ = 0;  // checkpoints that failed after every input ended

  // Micro-batch mode.
  std::optional<BatchLog> batch_log_;
  std::optional<Planning> planning_;
  std::vector<BatchPlan> replays_;  // planned batches to run again, in order
  // available-now: the end of what was available at the start, per source
  // and split.
  std::optional<std::map<std::string, std::map<int32_t, int64_t>>> targets_;
  bool last_batch_started_ = false;  // once: the one new batch has started
  bool batches_ended_ = false;       // kEndOfBatches went out
  std::string failure_;

  // Savepoints asked for and not started, and what became of each.
  std::deque<SavepointRequest> savepoint_requests_;
  std::map<uint64_t, SavepointResult> savepoint_results_;
  uint64_t next_savepoint_request_ = 1;
  std::optional<SavepointRequest> final_savepoint_;  // stop with drain into a savepoint

  std::function<void(int64_t)> abort_listener_;
  std::shared_ptr<CheckpointHistory> history_;
  bool retention_running_ = false;  // no checkpoint starts meanwhile
  // Last: destroyed first, so its chores finish while the rest is alive.
  BackgroundWork background_{"checkpoint-gc"};
};

}  // namespace sluice
