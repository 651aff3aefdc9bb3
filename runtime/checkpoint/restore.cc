#include "runtime/checkpoint/restore.h"

#include <algorithm>
#include <filesystem>

namespace sluice {
namespace {

OperatorRestore read_operator(const CheckpointStorage& storage, const std::string& dir,
                              int max_parallelism, OperatorStateHandle handle,
                              const KeyedStateWanted& wanted) {
  std::sort(handle.subtasks.begin(), handle.subtasks.end(),
            [](const auto& a, const auto& b) { return a.subtask < b.subtask; });
  OperatorRestore restore;
  for (const SubtaskStateHandle& s : handle.subtasks) {
    if (!s.keyed_state.empty() && wanted &&
        !wanted(handle.name, max_parallelism, handle.parallelism, s.subtask)) {
      restore.keyed.emplace_back();  // key groups no subtask here takes over
    } else if (!s.keyed_state.empty()) {
      std::string file = dir + "/" + s.keyed_state;
      try {
        restore.keyed.push_back(decode_versioned<KeyedSnapshot>(
            KeyedSnapshot::kFormat, storage.read_state_file(dir, s.keyed_state)));
      } catch (const InputError& e) {
        throw InputError(file + ": " + e.what());
      }
      if (auto& rocks = restore.keyed.back().rocks) {
        rocks->checkpoint_dir = dir;
        rocks->shared_dir = (std::filesystem::path(dir).parent_path() / "shared").string();
      }
    }
    // One entry per old subtask, empty or not: sinks share them out by index.
    restore.operator_states.push_back(
        s.operator_state.empty() ? std::string() : storage.read_state_file(dir, s.operator_state));
  }
  return restore;
}

}  // namespace

RestorePoint find_restore_point(const std::string& root, const std::string& job,
                                const std::string& what, const KeyedStateWanted& wanted) {
  CheckpointStorage storage(root, job);
  RestorePoint point;
  std::string dir;
  if (what == "latest") {
    std::optional<CheckpointMetadata> latest = storage.latest(point.warnings);
    if (!latest) {
      throw InputError("no complete checkpoint to restore in " + storage.job_dir());
    }
    point.metadata = std::move(*latest);
    dir = storage.checkpoint_dir(point.metadata.id);
  } else {
    dir = what;
    point.metadata = storage.load(dir);
  }
  for (const OperatorStateHandle& op : point.metadata.operators) {
    point.operators[op.name] =
        read_operator(storage, dir, point.metadata.max_parallelism, op, wanted);
  }
  return point;
}

std::vector<std::string> operators_not_restored(const CheckpointMetadata& metadata,
                                                const std::vector<std::string>& operators) {
  std::vector<std::string> dropped;
  for (const OperatorStateHandle& op : metadata.operators) {
    // A task's own records ("HEAD#in-flight", unaligned checkpoints) go
    // with the operator at the head of its chain.
    std::string owner = op.name.substr(0, op.name.find('#'));
    if (std::find(operators.begin(), operators.end(), owner) != operators.end()) continue;
    bool holds_state = std::any_of(op.subtasks.begin(), op.subtasks.end(), [](const auto& s) {
      return !s.keyed_state.empty() || !s.operator_state.empty() || !s.files.empty() ||
             !s.shared_files.empty();
    });
    if (holds_state) dropped.push_back(op.name);
  }
  // The metadata lists operators in the order their tasks acknowledged.
  std::sort(dropped.begin(), dropped.end());
  return dropped;
}

}  // namespace sluice
