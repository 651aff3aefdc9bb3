// What a completed checkpoint consists of: for every operator, the state
// files of each of its subtasks (paths relative to the checkpoint's
// directory, or to the job's shared area for files several checkpoints
// reference). Written once, when every task acknowledged, as the
// checkpoint's _metadata file (runtime/checkpoint/stored_formats.h gives
// its byte form). Plain values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/core/hash.h"
#include "runtime/core/time.h"

namespace sluice {

struct SubtaskStateHandle {
  int32_t subtask = 0;
  std::string keyed_state;                // file in the checkpoint directory, "" if none
  std::string operator_state;             // file in the checkpoint directory, "" if none
  std::vector<std::string> shared_files;  // files in the shared area
  std::vector<std::string> files;         // other files in the checkpoint directory
};

struct OperatorStateHandle {
  std::string name;  // the operator's stable name
  int32_t parallelism = 1;
  std::vector<SubtaskStateHandle> subtasks;
};

struct CheckpointMetadata {
  int64_t id = 0;
  std::string job;
  int32_t max_parallelism = 0;
  KeyHashing key_hashing = KeyHashing::kXxh3;  // how the job's keys map to key groups
  Timestamp completed_at = 0;
  std::vector<OperatorStateHandle> operators;

  const OperatorStateHandle* find(const std::string& name) const {
    for (const OperatorStateHandle& op : operators) {
      if (op.name == name) return &op;
    }
    return nullptr;
  }
};

}  // namespace sluice
