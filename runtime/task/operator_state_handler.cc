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
                                           const OperatorRestore* restore, MetricRegistry* registry,
                                           const std::string& task) {
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
  if (registry != nullptr) register_metrics(*registry, task, info.name);
}

OperatorStateHandler::~OperatorStateHandler() {
  if (registry_ != nullptr) registry_->remove(this);
}

void OperatorStateHandler::register_metrics(MetricRegistry& registry, const std::string& task,
                                            const std::string& op) {
  registry_ = &registry;
  MetricLabels labels{{"task", task}, {"operator", op}};
  if (backend_->kind() != StateBackendKind::kRocksDb) {
    entries_.set(static_cast<int64_t>(backend_->entry_count()));
    registry.add(this, "state_entries", "keyed state entries at the last checkpoint", entries_,
                 labels);
    return;
  }
  const RocksStore* rocks = &backend_->rocks_store();
  auto property = [rocks](const char* name) {
    return [rocks, name] { return static_cast<double>(rocks->summed_property(name)); };
  };
  registry.add_reading(this, "state_entries", "keyed state entries (RocksDB's estimate)",
                       property("rocksdb.estimate-num-keys"), labels);
  registry.add_reading(this, "rocksdb_memtable_bytes", "bytes in the instance's memtables",
                       property("rocksdb.cur-size-all-mem-tables"), labels);
  registry.add_reading(this, "rocksdb_live_data_bytes",
                       "estimated bytes of live data in the instance's SST files",
                       property("rocksdb.estimate-live-data-size"), labels);
  registry.add_reading(this, "rocksdb_pending_compaction_bytes",
                       "estimated bytes compactions would rewrite",
                       property("rocksdb.estimate-pending-compaction-bytes"), labels);
  registry.add_reading(
      this, "rocksdb_block_cache_usage_bytes", "bytes in the block cache the instance uses",
      [rocks] { return static_cast<double>(rocks->block_cache_usage()); }, labels);
}

void OperatorStateHandler::complete_snapshot(int64_t id, CheckpointKind kind,
                                             OperatorSnapshot& snapshot) {
  if (backend_ == nullptr) return;
  snapshot.keyed = backend_->snapshot(id, snapshot.files, is_savepoint(kind));
  if (backend_->kind() != StateBackendKind::kRocksDb) {
    entries_.set(static_cast<int64_t>(backend_->entry_count()));  // sizes, not a scan
  }
}

}  // namespace sluice
