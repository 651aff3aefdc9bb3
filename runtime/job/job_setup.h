// Builds a job's graph from a registered topology and the job options, the
// same way in every process: `sluice run`, the job manager (to place the
// job) and each task manager (to run its tasks).
//
// Threading: pure; the caller owns the result.
#pragma once

#include <memory>
#include <string>

#include "runtime/api/topology.h"
#include "runtime/job/job_options.h"
#include "runtime/job/registry.h"

namespace sluice {

struct JobDefinition {
  const TopologySpec* spec = nullptr;
  std::unique_ptr<Topology> topology;  // owns the graph

  const JobGraph& graph() const { return topology->graph(); }
};

// Throws UsageError for an unknown topology or bad parameters.
JobDefinition build_job(const RunOptions& options);

// The job's execution plan with no task built: its tasks, chains and the
// slots it needs. Throws UsageError as build_job and build_execution_plan.
ExecutionPlan lay_out_job(const RunOptions& options);

}  // namespace sluice
