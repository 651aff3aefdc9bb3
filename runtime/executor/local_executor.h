// Runs a job graph on the embedded local cluster: one thread per task, all in
// this process, channels in memory. Blocks until the job finishes, fails or
// is cancelled, and reports progress on the way.
//
// Threading: run_local() is called on any thread and blocks it; progress
// callbacks run on that same thread. cancel() may be called from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "runtime/coordinator/coordinator.h"
#include "runtime/executor/progress_reporter.h"
#include "runtime/graph/execution_plan.h"

namespace sluice {

struct LocalJobOptions {
  PlanOptions plan;
  // Processing-time clock for every task (the system clock by default).
  const Clock* clock = &SystemClock::instance();
  // When set, called every `progress_interval` milliseconds while running.
  std::function<void(const ProgressSample&)> on_progress;
  DurationMs progress_interval = 1000;
  // Set from another thread to cancel the job (e.g. on SIGINT).
  const std::atomic<bool>* cancel_flag = nullptr;
  // Periodic checkpoints (off unless configured), numbered after
  // `last_checkpoint_id` (the restored one, when resuming).
  CheckpointConfig checkpoint;
  int64_t last_checkpoint_id = 0;
};

struct JobResult {
  bool succeeded = false;
  bool cancelled = false;
  std::optional<JobFailure> failure;
  uint64_t records_in = 0;
  uint64_t records_out = 0;
  uint64_t late_dropped = 0;
  uint64_t skipped_records = 0;
  uint64_t async_timeouts = 0;  // retried or failing the job; never dropped
  uint64_t async_failures = 0;
  double wall_seconds = 0;
  std::vector<std::string> notes;
  std::vector<std::string> chains;
  size_t checkpoints_completed = 0;
  int64_t last_checkpoint_id = 0;
  std::string savepoint;  // a job stopped with a savepoint: its directory
};

// Throws UsageError when the graph or the options are invalid; every other
// failure is reported in the result.
JobResult run_local(const JobGraph& graph, const LocalJobOptions& options);

}  // namespace sluice
