// The checkpoint coordinator of one job run (design section 7).
//
// Every `interval` it starts checkpoint N: it prepares N's directory and
// posts a trigger to every source task. Sources snapshot and emit barrier N;
// tasks align their inputs on it, snapshot and pass it on. Each task hands
// its encoded snapshot to submit_snapshot(); a background thread writes the
// files (off the task threads) and counts the acknowledgement. With every
// task acknowledged, the coordinator writes N's metadata, tells every task
// N is complete (two-phase sinks commit then) and drops checkpoints beyond
// the retained ones. A checkpoint that times out, or that a finished task
// can no longer acknowledge, is aborted and the job goes on. At most one
// checkpoint is in flight.
//
// Threading: tick() on the executor's thread; submit_snapshot() and
// task_finished() on task threads; the writer thread inside. All state is
// behind one mutex. Lifecycle: construct -> attach tasks -> tick* -> destroy
// (after every task stopped; joins the writer).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

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

// What a task sends when it took its part of a checkpoint.
struct OperatorSnapshotBytes {
  std::string name;
  int32_t subtask = 0;
  int32_t parallelism = 1;
  std::optional<std::string> keyed;  // an encoded KeyedSnapshot
  std::string operator_state;
  SnapshotFiles files;  // stored by the writer, scratch removed afterwards
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

class CheckpointCoordinator {
 public:
  CheckpointCoordinator(CheckpointConfig config, std::string job, int max_parallelism,
                        int64_t last_checkpoint_id, const Clock& clock);
  ~CheckpointCoordinator();

  // Registers a task; sources receive triggers. Returns its index.
  size_t attach(TaskMailbox* task, bool is_source);

  // Starts a checkpoint when one is due; aborts one that timed out.
  void tick();
  // When tick() next has something to do (kMaxTimestamp: never).
  Timestamp next_deadline() const;

  // `synchronous_ms`: how long the task's snapshot held up its thread.
  void submit_snapshot(int64_t id, size_t task, std::vector<OperatorSnapshotBytes> operators,
                       DurationMs synchronous_ms);
  // A finished task acknowledges nothing more: no new checkpoints start.
  void task_finished(size_t task);

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
  struct WriteJob {
    int64_t id;
    size_t task;
    std::vector<OperatorSnapshotBytes> operators;
    DurationMs synchronous_ms;
  };

  void write_loop();
  void write(WriteJob& job);
  static void remove_scratch(const WriteJob& job);
  struct StoredSize {
    uint64_t written = 0;
    uint64_t total = 0;
    DurationMs synchronous_ms = 0;
  };
  void acknowledge(int64_t id, size_t task, std::vector<SubtaskStateHandle> handles, StoredSize size,
                   const std::vector<OperatorSnapshotBytes>& operators);
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

  std::condition_variable work_;
  std::deque<WriteJob> queue_;
  bool closing_ = false;
  std::thread writer_;
};

}  // namespace sluice
