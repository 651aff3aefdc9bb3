// Resuming a job from a checkpoint: finding it ("latest" or a path) and
// reading every operator's state files into what each restored operator
// subtask receives. Runs on the thread that starts the job.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "runtime/checkpoint/storage.h"
#include "runtime/operator/operator.h"

namespace sluice {

struct RestorePoint {
  CheckpointMetadata metadata;
  std::map<std::string, OperatorRestore> operators;  // by operator name
  std::vector<std::string> warnings;                 // checkpoints skipped on the way
};

// Whether this process needs the keyed state of subtask `old_subtask` of
// operator `name` (of `old_parallelism`, in a checkpoint of
// `max_parallelism` key groups): a task manager skips the old subtasks whose
// key groups none of its own subtasks take over.
using KeyedStateWanted = std::function<bool(const std::string& name, int max_parallelism,
                                            int old_parallelism, int old_subtask)>;

// `what` is "latest" (the newest intact checkpoint of `job` under `root`)
// or the path of a checkpoint directory. Keyed state `wanted` refuses is
// not read (an empty snapshot stands in); operator state is always read.
// Throws InputError when there is no usable checkpoint, naming where it
// looked.
RestorePoint find_restore_point(const std::string& root, const std::string& job,
                                const std::string& what, const KeyedStateWanted& wanted = {});

// Operator state is matched to the topology by the operators' stable
// names: an operator the checkpoint does not know starts empty, and state
// of an operator the topology no longer has would be lost. Returns the
// names of the operators in `metadata` that hold state (keyed or operator
// state in some subtask) and are not among `operators` (a task's in-flight
// records, "HEAD#in-flight", count as its head operator's), sorted.
std::vector<std::string> operators_not_restored(const CheckpointMetadata& metadata,
                                                const std::vector<std::string>& operators);

}  // namespace sluice
