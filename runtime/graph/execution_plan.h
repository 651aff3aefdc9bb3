// Turns a job graph into runnable tasks: resolves parallelism and default
// partitioning, chains operators joined by forward edges of equal
// parallelism (the downstream operator having that single input), creates
// one channel per (producer subtask, consumer subtask) of every other edge,
// and builds one Task per chain and subtask.
//
// Threading: runs on the submitting thread before any task starts.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/graph/job_graph.h"
#include "runtime/task/task.h"

namespace sluice {

struct PlanOptions {
  std::string job_name = "job";
  int parallelism = 1;
  int max_parallelism = kDefaultMaxParallelism;
  size_t channel_capacity = 8;  // batches per channel
  StateBackendConfig state_backend;  // memory unless set
  // State to resume from, by operator name (null: a fresh start).
  const std::map<std::string, OperatorRestore>* restore = nullptr;
};

struct ExecutionPlan {
  std::vector<std::unique_ptr<ChannelBase>> channels;
  std::vector<std::unique_ptr<Task>> tasks;
  // Human-readable description of the chains, for logs and tests.
  std::vector<std::string> chains;
};

// Throws UsageError for an invalid graph (bad parallelism, forward edge
// between different parallelisms, no source).
ExecutionPlan build_execution_plan(const JobGraph& graph, const PlanOptions& options,
                                   JobControl& control, JobMetrics& metrics, const Clock& clock);

}  // namespace sluice
