// The options of one job: which topology with which parameters, how it is
// planned (parallelism, state backend, chaining), its checkpoints, restore
// and restarts. `sluice run` and the cluster commands fill them from the
// command line (runtime/cli/run_options.h); the job manager and the task
// managers build the same job from them (runtime/job/job_setup.h).
//
// Threading: plain values, copied where needed.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "runtime/checkpoint/checkpoint_config.h"
#include "runtime/executor/restarts.h"
#include "runtime/graph/execution_plan.h"

namespace sluice {

// What `sluice run` does with the job on SIGTERM or SIGINT.
enum class SignalAction {
  kCancel,
  kDrain,  // stop with drain: every window fires, the final checkpoint commits
  kStop,   // stop without drain: the sources stop, a savepoint commits the sinks
};

struct RunOptions {
  std::string topology;
  std::vector<std::string> job_args;  // every argument but the topology, as given
  std::map<std::string, std::string> params;
  PlanOptions plan;
  std::string state_dir;  // empty: a temporary directory for rocksdb
  CheckpointConfig checkpoint;
  std::string restore;  // "latest", a checkpoint directory, or empty
  // Restore a checkpoint whose operators the topology no longer all has.
  bool allow_non_restored_state = false;
  RestartStrategy restart;
  bool restart_given = false;
  bool progress = false;
  int rest_port = -1;  // `sluice run`: its embedded job manager's REST API (-1: off)
  SignalAction on_signal = SignalAction::kCancel;  // `sluice run`: what SIGTERM and SIGINT do
  bool help = false;
  std::string log_level = "warn";
};

}  // namespace sluice
