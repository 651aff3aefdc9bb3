// The embedded local cluster behind `sluice run` (design section 2): a job
// manager and one task manager in this process, connected by the in-process
// transport (runtime/cluster/local_link.h). The job is submitted, placed,
// checkpointed, restarted and cancelled by the same code as on a cluster;
// every slot is in the one task manager, so no channel leaves the process.
//
// Threading: run_on_local_cluster() blocks its caller, which also reports
// progress; the job manager and task manager run on threads of their own.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "runtime/cluster/cluster.pb.h"
#include "runtime/executor/local_executor.h"
#include "runtime/job/job_options.h"

namespace sluice {

struct LocalClusterJob {
  pb::JobSpec spec;
  std::string name;  // the job's id, and its directory in checkpoint storage
  int slots = 1;     // the job's largest parallelism
  std::function<void(const ProgressSample&)> on_progress;
  DurationMs progress_interval = 1000;
  // Signals received (SIGINT, SIGTERM): the first does `on_signal` to the
  // job (it cancels when a drain or stop is refused), a second one cancels.
  const std::atomic<int>* signals = nullptr;
  SignalAction on_signal = SignalAction::kCancel;
  int rest_port = -1;  // the REST API and dashboard (0: any free port; -1: off)
};

struct LocalClusterResult {
  JobResult job;  // metrics of the last attempt
  int restarts = 0;
};

// Throws UsageError when the job manager refuses the job.
LocalClusterResult run_on_local_cluster(const LocalClusterJob& job);

}  // namespace sluice
