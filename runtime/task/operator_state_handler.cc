#include "runtime/task/operator_state_handler.h"

#include <cctype>
#include <utility>

#include <fmt/format.h>

namespace sluice {

namespace {

// The directory of an operator subtask's RocksDB instance, under the job's
// state directory: its name made safe for a file system, and its subtask.
std::string instance_directory_name(const OperatorInfo& info) {
  std::string name;
  for (char c : info.name) name.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return name + "-" + std::to_string(info.subtask);
}

}  // namespace

OperatorStateHandler::OperatorStateHandler(const OperatorBase& op, const StateBackendConfig& config,
                                           const OperatorRestore* restore) {
  if (!op.keeps_keyed_state()) return;
  const OperatorInfo& info = op.info();
  StateBackendConfig instance = config;
  if (instance.kind == StateBackendKind::kRocksDb) {
    instance.rocksdb.directory += fmt::format("/{}", instance_directory_name(info));
  }
  KeyGroupRange groups =
      key_group_range_for_subtask(info.max_parallelism, info.parallelism, info.subtask);
  backend_ = std::make_unique<KeyedStateBackend>(instance, groups, info.max_parallelism);
  if (restore != nullptr) backend_->restore(restore->keyed);
}

void OperatorStateHandler::complete_snapshot(int64_t id, OperatorSnapshot& snapshot) {
  if (backend_ == nullptr) return;
  snapshot.keyed = backend_->snapshot(id, snapshot.files);
}

}  // namespace sluice
