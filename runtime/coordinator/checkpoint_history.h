// What a job's checkpoints and batches did, for the REST API and the
// dashboard: the newest checkpoints with their timings and sizes, counts
// over the job's life, and the newest committed batches' progress. The
// checkpoint coordinator of each attempt records into the job's history
// (CheckpointCoordinator::record_history_in), so it spans restarts.
//
// Threading: every method from any thread, under the history's own lock;
// the coordinator calls in under its lock (coordinator, then history).
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "runtime/checkpoint/batch_progress.h"
#include "runtime/core/time.h"

namespace sluice {

enum class CheckpointStatus { kInProgress, kCompleted, kFailed };
const char* checkpoint_status_name(CheckpointStatus status);  // IN_PROGRESS, ...

struct CheckpointRecord {
  int64_t id = 0;
  CheckpointStatus status = CheckpointStatus::kInProgress;
  bool final = false;
  bool savepoint = false;
  std::string savepoint_path;  // once a savepoint completed
  Timestamp triggered_at = 0;
  Timestamp ended_at = 0;  // 0 while in progress
  size_t acknowledged = 0;
  size_t tasks = 0;
  DurationMs synchronous_ms = 0;  // the longest over the tasks, as the next two
  DurationMs asynchronous_ms = 0;
  DurationMs alignment_ms = 0;
  uint64_t bytes_written = 0;
  uint64_t bytes_total = 0;
  std::string failure;
};

struct CheckpointCounts {
  int64_t completed = 0;
  int64_t failed = 0;
  int64_t in_progress = 0;
};

class CheckpointHistory {
 public:
  static constexpr size_t kCheckpointsKept = 50;
  static constexpr size_t kBatchesKept = 100;

  // A new checkpoint, or news of one: replaces the record with its id.
  void update(const CheckpointRecord& record);
  void add_batch(const BatchProgress& progress);

  CheckpointCounts counts() const;
  std::vector<CheckpointRecord> checkpoints() const;  // newest first
  std::optional<CheckpointRecord> latest(CheckpointStatus status) const;
  std::vector<BatchProgress> batches() const;  // oldest first

 private:
  mutable std::mutex mutex_;
  std::deque<CheckpointRecord> checkpoints_;  // oldest first
  CheckpointCounts counts_;
  std::optional<CheckpointRecord> latest_completed_;
  std::optional<CheckpointRecord> latest_failed_;
  std::deque<BatchProgress> batches_;
};

}  // namespace sluice
