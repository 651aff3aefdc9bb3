// Parsing of `sluice run` options into a plan and topology parameters.
// Pure functions; throw UsageError with a one-line message.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "runtime/checkpoint/coordinator.h"
#include "runtime/graph/execution_plan.h"
#include "runtime/task/restarts.h"

namespace sluice {

struct RunOptions {
  std::string topology;
  std::map<std::string, std::string> params;
  PlanOptions plan;
  std::string state_dir;  // empty: a temporary directory for rocksdb
  CheckpointConfig checkpoint;
  std::string restore;  // "latest", a checkpoint directory, or empty
  RestartStrategy restart;
  bool restart_given = false;
  bool progress = false;
  bool help = false;
  std::string log_level = "warn";
};

RunOptions parse_run_options(const std::vector<std::string>& args);

// The value of `option` as an integer >= 1; throws UsageError naming it.
int64_t parse_positive_count(const std::string& option, const std::string& text);

extern const char* const kRunUsage;

}  // namespace sluice
