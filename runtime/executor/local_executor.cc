#include "runtime/executor/local_executor.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>

#include "runtime/coordinator/local_checkpointing.h"
#include "runtime/core/logging.h"
#include "runtime/executor/task_attempt.h"

namespace sluice {
namespace {

using SteadyClock = std::chrono::steady_clock;

double seconds_since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

}  // namespace

JobResult run_local(const JobGraph& graph, const LocalJobOptions& options) {
  // Sources read batch slices exactly when the coordinator plans batches: the two must agree, or a
  // planned batch waits for sources that never snapshot it.
  PlanOptions plan_options = options.plan;
  plan_options.micro_batch = options.checkpoint.batches.enabled;
  TaskAttempt attempt(graph, plan_options, *options.clock);
  const ExecutionPlan& plan = attempt.plan();
  JobControl& control = attempt.control();
  JobMetrics& metrics = attempt.metrics();
  for (const std::string& chain : plan.chains) log::runtime()->debug("chain: {}", chain);

  std::optional<CheckpointCoordinator> coordinator;
  std::optional<LocalCheckpointing> checkpointing;
  std::optional<ProbeRegistration> checkpoint_metrics;
  if (options.checkpoint.enabled()) {
    coordinator.emplace(options.checkpoint, options.plan.job_name, options.plan.max_parallelism,
                        options.plan.key_hashing, options.last_checkpoint_id, *options.clock);
    coordinator->probe().register_in(metrics.registry);
    checkpoint_metrics.emplace(metrics.registry, &coordinator->probe());
    for (size_t i = 0; i < plan.all_tasks.size(); ++i) {
      coordinator->attach(attempt.mailbox(i), plan.all_tasks[i].source);
    }
    coordinator->prepare_batches(options.last_checkpoint_id > 0 || options.plan.restore != nullptr);
    checkpointing.emplace(*coordinator);
    attempt.attach_checkpoints(&*checkpointing);
  }

  auto start = SteadyClock::now();
  attempt.start();

  ProgressReporter reporter(options.on_progress, options.progress_interval, start);
  DurationMs poll_ms = options.on_progress ? options.progress_interval : 100;
  bool cancelled_by_caller = false;
  while (!control.wait_all_done(std::chrono::milliseconds(
      coordinator ? std::clamp<Timestamp>(coordinator->next_deadline() - options.clock->now_ms(), 1,
                                          poll_ms)
                  : poll_ms))) {
    if (coordinator) {
      coordinator->tick();
      std::string failure = coordinator->failure();
      if (!failure.empty()) control.fail(ErrorKind::kExternal, failure);
    }
    size_t checkpoints = coordinator ? coordinator->completed_count() : 0;
    if (options.cancel_flag != nullptr && options.cancel_flag->load() && !cancelled_by_caller) {
      cancelled_by_caller = true;
      control.cancel();
    }
    reporter.report(metrics, checkpoints);
  }
  attempt.join();
  reporter.report(metrics, coordinator ? coordinator->completed_count() : 0, /*force=*/true);

  JobResult result;
  result.failure = control.failure();
  result.cancelled = cancelled_by_caller && !result.failure;
  result.succeeded = !result.failure && !result.cancelled;
  result.records_in = metrics.records_in.value();
  result.records_out = metrics.records_out.value();
  result.late_dropped = metrics.late_dropped.value();
  result.skipped_records = metrics.skipped_records.value();
  result.async_timeouts = metrics.async_timeouts.value();
  result.async_failures = metrics.async_failures.value();
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
