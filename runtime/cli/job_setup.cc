#include "runtime/cli/job_setup.h"

namespace sluice {

JobDefinition build_job(const RunOptions& options) {
  JobDefinition job;
  job.spec = TopologyRegistry::instance().find(options.topology);
  if (job.spec == nullptr) {
    throw UsageError("unknown topology '" + options.topology + "' (see sluice topologies)");
  }
  Params params(options.params, job.spec->params);
  params.set_parallelism(options.plan.parallelism);
  if (options.checkpoint.enabled()) params.set_checkpoint_interval(options.checkpoint.interval);
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
