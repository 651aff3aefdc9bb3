#include "runtime/job/job_setup.h"

namespace sluice {
namespace {

// How often a job commits, as topologies size their sinks by it: the
// checkpoint interval, the micro-batch trigger's, or for back-to-back
// batches a generous bound on one batch's duration.
constexpr DurationMs kBackToBackCommitBoundMs = 60'000;

DurationMs commit_interval(const CheckpointConfig& checkpoint) {
  if (!checkpoint.batches.enabled) return checkpoint.interval;
  if (checkpoint.batches.trigger == BatchTrigger::kInterval) return checkpoint.batches.interval;
  return kBackToBackCommitBoundMs;
}

}  // namespace

JobDefinition build_job(const RunOptions& options) {
  JobDefinition job;
  job.spec = TopologyRegistry::instance().find(options.topology);
  if (job.spec == nullptr) {
    throw UsageError("unknown topology '" + options.topology + "' (see sluice topologies)");
  }
  Params params(options.params, job.spec->params);
  params.set_parallelism(options.plan.parallelism);
  if (options.checkpoint.enabled()) {
    params.set_checkpoint_interval(commit_interval(options.checkpoint));
  }
  job.topology = std::make_unique<Topology>(job.spec->name);
  job.spec->build(*job.topology, params);
  return job;
}

ExecutionPlan lay_out_job(const RunOptions& options) {
  JobDefinition definition = build_job(options);
  PlanOptions plan = options.plan;
  plan.placement.nowhere = true;
  JobControl control;
  JobMetrics metrics;
  return build_execution_plan(definition.graph(), plan, control, metrics, SystemClock::instance());
}

}  // namespace sluice
