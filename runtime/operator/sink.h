// Sinks: a Sink<T> is the plan (where to write), shared by all subtasks; it
// creates one SinkWriter<T> per subtask.
//
// Threading: a writer is used only on its task's thread.
// Lifecycle: create_writer -> open -> [recover] -> write* (with on_watermark,
// prepare_commit and commit between) -> finish (end of input: flush) ->
// with checkpoints, prepare_commit and commit of the job's final
// checkpoint (a two-phase sink publishes its last output only through it)
// -> close. close() also runs after a failure, without finish(); it must
// not publish what no completed checkpoint committed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/core/clock.h"
#include "runtime/operator/record.h"

namespace sluice {

class JobMetrics;

struct SinkContext {
  int subtask = 0;
  int parallelism = 1;
  std::string task_name;
  const Clock* clock = nullptr;
  JobMetrics* metrics = nullptr;  // for notes in the end-of-job summary
  // The job takes checkpoints: stage output until its checkpoint completes.
  bool checkpointing = false;
};

template <class T>
class SinkWriter {
 public:
  virtual ~SinkWriter() = default;
  virtual void open(const SinkContext& context) {}
  virtual void write(Batch<T>& batch) = 0;
  virtual void on_watermark(Timestamp watermark) {}
  // End of input. Without checkpoints: flush and publish everything. With
  // checkpoints: flush; the final checkpoint's prepare_commit and commit
  // follow.
  virtual void finish() {}
  virtual void close() {}

  // Two-phase commit (design section 8). At checkpoint `id`'s barrier the
  // writer makes what it wrote since the last barrier durable but not yet
  // visible, and returns what identifies it (stored in the checkpoint).
  virtual std::string prepare_commit(int64_t checkpoint_id) { return {}; }
  // Checkpoint `id` completed: make everything prepared up to it visible.
  // Must be idempotent.
  virtual void commit(int64_t checkpoint_id) {}
  // On a restore, before any write: what every old subtask prepared for the
  // restored (complete) checkpoint, by old subtask index. It must end up
  // committed exactly once (commits are idempotent, and every new subtask
  // sees all of it); whatever the failed run left that is not listed is to
  // be discarded.
  virtual void recover(const std::vector<std::string>& prepared) {}
};

template <class T>
class Sink {
 public:
  virtual ~Sink() = default;
  virtual std::unique_ptr<SinkWriter<T>> create_writer() const = 0;
};

}  // namespace sluice
