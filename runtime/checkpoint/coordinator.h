// The checkpoint coordinator of one job run (design section 7).
//
// Every `interval` it starts checkpoint N: it prepares N's directory and
// posts a trigger to every source task. Sources snapshot and emit barrier N;
// tasks align their inputs on it, snapshot and pass it on. Each task's
// snapshot is stored off its thread (runtime/checkpoint/snapshot_writer.h)
// and acknowledged here. With every task acknowledged, the coordinator
// writes N's metadata, tells every task N is complete (two-phase sinks
// commit then) and drops checkpoints beyond the retained ones. A checkpoint
// that times out, fails to store, or that a finished task can no longer
// acknowledge, is aborted and the job goes on. At most one checkpoint is in
// flight. Tasks may live in this process or in task managers: the
// coordinator sees them only as mailboxes.
//
// Threading: tick() and trigger_now() on the owner's thread; acknowledge(),
// decline() and task_finished() from any thread. All state is behind one
// mutex; mails are posted under it, so a mailbox must not call back.
// Lifecycle: construct -> attach tasks -> tick* -> destroy.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "runtime/checkpoint/snapshot_writer.h"
#include "runtime/checkpoint/storage.h"
#include "runtime/core/clock.h"
#include "state/snapshot.h"

namespace sluice {

struct CheckpointConfig {
  std::string directory;        // empty: no checkpoints
  DurationMs interval = 0;      // 0: no checkpoints
  DurationMs timeout = 600'000;
  size_t retained = 3;

  bool enabled() const { return !directory.empty() && interval > 0; }
};

enum class MailKind { kTriggerCheckpoint, kCheckpointComplete, kCheckpointAborted };

struct Mail {
  MailKind kind;
  int64_t checkpoint;
};

// Where the coordinator posts mails for a task.
class TaskMailbox {
 public:
  virtual ~TaskMailbox() = default;
  virtual void post(Mail mail) = 0;
};

// What a task calls during checkpoints: `task` is its index among the
// coordinator's tasks.
class CheckpointParticipation {
 public:
  virtual ~CheckpointParticipation() = default;
  // `synchronous_ms`: how long the task's snapshot held up its thread.
  virtual void submit_snapshot(int64_t id, size_t task,
                               std::vector<OperatorSnapshotBytes> operators,
                               DurationMs synchronous_ms) = 0;
  // A finished task acknowledges nothing more.
  virtual void task_finished(size_t task) = 0;
};

class CheckpointCoordinator {
 public:
  CheckpointCoordinator(CheckpointConfig config, std::string job, int max_parallelism,
                        int64_t last_checkpoint_id, const Clock& clock);

  // Registers a task; sources receive triggers. Returns its index.
  size_t attach(TaskMailbox* task, bool is_source);

  // Starts a checkpoint when one is due; aborts one that timed out.
  void tick();
  // When tick() next has something to do (kMaxTimestamp: never).
  Timestamp next_deadline() const;

  // Starts a checkpoint now, unless one is in flight or the job's tasks
  // can no longer take one. Returns its id, or 0.
  int64_t trigger_now();
  // A task stored its part of checkpoint `stored.id` (or failed to, when
  // `stored.error` is set: the checkpoint aborts). Stale ones are ignored.
  void acknowledge(StoredSnapshot&& stored);
  // A finished task acknowledges nothing more: no new checkpoints start.
  void task_finished(size_t task);
  // Called, under the coordinator's lock, with the id of every aborted
  // checkpoint.
  void on_abort(std::function<void(int64_t)> listener);
  // The directory of checkpoint `id`.
  std::string checkpoint_dir(int64_t id) const { return storage_.checkpoint_dir(id); }
  const CheckpointStorage& storage() const { return storage_; }

  int64_t last_completed() const;
  size_t completed_count() const;

 private:
  struct Pending {
    int64_t id = 0;
    Timestamp started_at = 0;
    std::vector<bool> acked;
    // Bytes this checkpoint wrote, and bytes it references in all (with
    // the shared files earlier checkpoints wrote).
    uint64_t bytes_written = 0;
    uint64_t bytes_total = 0;
    DurationMs longest_synchronous = 0;  // over the tasks
    size_t acks = 0;
    CheckpointMetadata metadata;
  };
  bool start_locked(Timestamp now);
  void complete_locked();
  void abort_locked(const std::string& why);
  void post_all(Mail mail);

  CheckpointConfig config_;
  CheckpointStorage storage_;
  int max_parallelism_;
  const Clock& clock_;
  std::vector<TaskMailbox*> tasks_;
  std::vector<bool> is_source_;

  mutable std::mutex mutex_;
  std::optional<Pending> pending_;
  int64_t next_id_;
  int64_t last_completed_;
  size_t completed_ = 0;
  Timestamp next_trigger_;
  bool stopped_ = false;

  std::function<void(int64_t)> abort_listener_;
};

}  // namespace sluice
