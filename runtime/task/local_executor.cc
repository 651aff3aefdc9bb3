#include "runtime/task/local_executor.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>

#include "runtime/checkpoint/local_checkpointing.h"
#include "runtime/core/logging.h"
#include "runtime/task/task_attempt.h"

namespace sluice {
namespace {

using SteadyClock = std::chrono::steady_clock;

double seconds_since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

class ProgressReporter {
 public:
  ProgressReporter(const LocalJobOptions& options, const JobMetrics& metrics,
                   SteadyClock::time_point start)
      : options_(options), metrics_(metrics), start_(start), last_time_(start) {}

  // Reports at most once per progress interval, unless forced.
  void report(size_t checkpoints, bool force = false) {
    if (!options_.on_progress) return;
    ProgressSample sample;
    auto now = SteadyClock::now();
    double dt = std::chrono::duration<double>(now - last_time_).count();
    if (!force && dt * 1000 < static_cast<double>(options_.progress_interval)) return;
    sample.checkpoints_completed = checkpoints;
    sample.elapsed_seconds = seconds_since(start_);
    sample.records_in = metrics_.records_in.load(std::memory_order_relaxed);
    sample.records_out = metrics_.records_out.load(std::memory_order_relaxed);
    if (dt > 0) {
      sample.in_per_second = static_cast<double>(sample.records_in - last_in_) / dt;
      sample.out_per_second = static_cast<double>(sample.records_out - last_out_) / dt;
    }
    sample.watermark = metrics_.sink_watermark();
    last_in_ = sample.records_in;
    last_out_ = sample.records_out;
    last_time_ = now;
    options_.on_progress(sample);
  }

 private:
  const LocalJobOptions& options_;
  const JobMetrics& metrics_;
  SteadyClock::time_point start_;
  SteadyClock::time_point last_time_;
  uint64_t last_in_ = 0;
  uint64_t last_out_ = 0;
};

}  // namespace

JobResult run_local(const JobGraph& graph, const LocalJobOptions& options) {
  TaskAttempt attempt(graph, options.plan, *options.clock);
  const ExecutionPlan& plan = attempt.plan();
  JobControl& control = attempt.control();
  JobMetrics& metrics = attempt.metrics();
  for (const std::string& chain : plan.chains) log::runtime()->debug("chain: {}", chain);

  std::optional<CheckpointCoordinator> coordinator;
  std::optional<LocalCheckpointing> checkpointing;
  if (options.checkpoint.enabled()) {
    coordinator.emplace(options.checkpoint, options.plan.job_name, options.plan.max_parallelism,
                        options.last_checkpoint_id, *options.clock);
    for (size_t i = 0; i < plan.all_tasks.size(); ++i) {
      coordinator->attach(attempt.mailbox(i), plan.all_tasks[i].is_source);
    }
    checkpointing.emplace(*coordinator);
    attempt.attach_checkpoints(&*checkpointing);
  }

  auto start = SteadyClock::now();
  attempt.start();

  ProgressReporter reporter(options, metrics, start);
  DurationMs poll_ms = options.on_progress ? options.progress_interval : 100;
  bool cancelled_by_caller = false;
  while (!control.wait_all_done(std::chrono::milliseconds(
      coordinator ? std::clamp<Timestamp>(coordinator->next_deadline() - options.clock->now_ms(), 1,
                                          poll_ms)
                  : poll_ms))) {
    if (coordinator) coordinator->tick();
    size_t checkpoints = coordinator ? coordinator->completed_count() : 0;
    if (options.cancel_flag != nullptr && options.cancel_flag->load() && !cancelled_by_caller) {
      cancelled_by_caller = true;
      control.cancel();
    }
    reporter.report(checkpoints);
  }
  attempt.join();
  reporter.report(coordinator ? coordinator->completed_count() : 0, /*force=*/true);

  JobResult result;
  result.failure = control.failure();
  result.cancelled = cancelled_by_caller && !result.failure;
  result.succeeded = !result.failure && !result.cancelled;
  result.records_in = metrics.records_in.load();
  result.records_out = metrics.records_out.load();
  result.late_dropped = metrics.late_dropped.load();
  result.skipped_records = metrics.skipped_records.load();
  result.wall_seconds = seconds_since(start);
  result.notes = metrics.notes();
  result.chains = plan.chains;
  if (coordinator) {
    result.checkpoints_completed = coordinator->completed_count();
    result.last_checkpoint_id = coordinator->last_completed();
  }
  return result;
}

}  // namespace sluice
