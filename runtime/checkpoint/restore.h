// Resuming a job from a checkpoint: finding it ("latest" or a path) and
// reading every operator's state files into what each restored operator
// subtask receives. Runs on the thread that starts the job.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "runtime/api/operator.h"
#include "runtime/checkpoint/storage.h"

namespace sluice {

struct RestorePoint {
  CheckpointMetadata metadata;
  std::map<std::string, OperatorRestore> operators;  // by operator name
  std::vector<std::string> warnings;                 // checkpoints skipped on the way
};

// `what` is "latest" (the newest intact checkpoint of `job` under `root`)
// or the path of a checkpoint directory. Throws InputError when there is no
// usable checkpoint, naming where it looked.
RestorePoint find_restore_point(const std::string& root, const std::string& job,
                                const std::string& what);

}  // namespace sluice
