#include "runtime/state_backend/keyed_state_backend.h"

#include <filesystem>
#include <random>
#include <stdexcept>

#include <fmt/format.h>

#include "runtime/core/errors.h"
#include "state/rocksdb/native_snapshot.h"

namespace sluice {

KeyedStateBackend::KeyedStateBackend(const StateBackendConfig& config, KeyGroupRange range,
                                     int max_parallelism)
    : kind_(config.kind),
      incremental_(config.incremental_checkpoints),
      range_(range),
      max_parallelism_(max_parallelism) {
  if (kind_ == StateBackendKind::kRocksDb) {
    if (config.rocksdb.directory.empty()) {
      throw std::invalid_argument("the rocksdb state backend needs a directory");
    }
    rocks_ = std::make_unique<RocksStore>(config.rocksdb);
    std::random_device random;
    uint64_t run = (uint64_t{random()} << 32) | random();
    rocks_tag_ = fmt::format(
        "{}-{:016x}", std::filesystem::path(config.rocksdb.directory).filename().string(), run);
  }
}

KeyedStateBackend::~KeyedStateBackend() {
  pins_.release_all();
}

void KeyedStateBackend::set_current_key(KeyGroup group, std::string_view key_bytes,
                                        uint64_t key_hash) {
  group_ = group;
  scope_.key.clear();
  append_key_group_prefix(scope_.key, group);
  scope_.key.append(key_bytes);
  scope_.key_hash = key_hash;
  ++scope_.key_epoch;
}

void KeyedStateBackend::flush_tables() {
  for (auto& [name, table] : tables_) table->flush();
}

KeyedSnapshot KeyedStateBackend::capture_snapshot(bool native) {
  flush_tables();
  KeyedSnapshot snapshot;
  auto captured = std::make_shared<CapturedStates>(pins_.pin());
  for (const auto& [name, table] : tables_) {
    if (native && table->in_rocks_instance()) {
      // In the instance's files; its kind and value type are recorded here.
      snapshot.states.push_back(StateEntries{name, table->stored_kind(), {}});
    } else {
      captured->add(name, table->capture());
    }
  }
  snapshot.deferred = std::move(captured);
  for (const auto& [name, entries] : restored_) {
    bool in_files = rocks_ && entries.entries.empty() && !entries.kind.empty();
    snapshot.states.push_back(in_files && !native ? read_unclaimed(entries) : entries);
  }
  return snapshot;
}

// A state restored with the instance's files that no table claimed in this
// run: its entries are in its column family, read here in the portable form.
StateEntries KeyedStateBackend::read_unclaimed(const StateEntries& marker) {
  StateEntries out{marker.name, marker.kind, {}};
  std::string_view kind = split_stored_kind(marker.kind).first;
  if (kind == TimerQueue::kKind) return out;  // timers live outside the instance
  rocks_->for_each(rocks_->column_family(marker.name),
                   [&](std::string_view rocks_key, std::string_view value) {
                     StateEntry entry;
                     split_rocks_key(rocks_key, entry.key, entry.ns);
                     entry.value = portable_from_stored(kind, value);
                     out.entries.push_back(std::move(entry));
                   });
  return out;
}

KeyedSnapshot KeyedStateBackend::snapshot() {
  KeyedSnapshot snapshot = capture_snapshot(/*native=*/false);
  snapshot.complete_deferred();
  return snapshot;
}

KeyedSnapshot KeyedStateBackend::snapshot(int64_t id, SnapshotFiles& files, bool portable) {
  bool native = kind_ == StateBackendKind::kRocksDb && incremental_ && !portable;
  KeyedSnapshot snapshot = capture_snapshot(native);
  if (native) {
    snapshot.rocks = take_native_snapshot(*rocks_, id, range_, rocks_tag_, restored_files_, files);
  }
  return snapshot;
}

void KeyedStateBackend::restore_rocks_files(const std::vector<KeyedSnapshot>& snapshots) {
  std::vector<const RocksFiles*> instances;
  for (const KeyedSnapshot& snapshot : snapshots) {
    if (snapshot.rocks) instances.push_back(&*snapshot.rocks);
  }
  if (instances.empty()) return;
  if (kind_ != StateBackendKind::kRocksDb) {
    throw InputError(
        "the checkpoint holds RocksDB files (incremental checkpoints): restore it with --state "
        "rocksdb");
  }
  RocksDbOptions options = rocks_->options();
  const RocksFiles& only = *instances.front();
  if (instances.size() == 1 && tables_.empty() && only.first_group == range_.first &&
      only.last_group == range_.last) {
    rocks_.reset();
    materialize(only, options.directory);
    rocks_ = std::make_unique<RocksStore>(options, RocksStore::Open::kExisting);
    for (const RocksFile& file : only.files) {
      if (file.shared) restored_files_[file.local] = file.stored;
    }
    return;
  }
  std::string scratch = options.directory + ".restore";
  for (const RocksFiles* instance : instances) {
    int first = std::max(instance->first_group, range_.first);
    int last = std::min(instance->last_group, range_.last);
    if (first > last) continue;
    materialize(*instance, scratch);
    rocks_->copy_groups_from(scratch, first, last);
  }
  std::error_code ec;
  std::filesystem::remove_all(scratch, ec);
}

void KeyedStateBackend::fit_restored(StateTableBase& table, StateEntries& stored) {
  auto [kind, signature] = split_stored_kind(stored.kind);
  if (!kind.empty() && kind != table.kind()) {
    throw InputError(fmt::format(
        "state '{}' was checkpointed as {} state and is now declared as {} state; a state "
        "cannot change its kind across a restore (give the new state another name)",
        stored.name, kind, table.kind()));
  }
  std::string current = table.value_signature();
  // Checkpoints before signatures were recorded, and timers, say nothing.
  if (signature.empty() || current.empty() || signature == current) return;
  std::string old_signature(signature);
  if (table.upgrade_values(stored, old_signature)) {
    stored.kind = table.stored_kind();
    return;
  }
  throw InputError(fmt::format(
      "state '{}' was checkpointed with values of type {} and is now declared with values of "
      "type {}; a value type may only gain struct fields at its end (give the new state another "
      "name, or keep the old type)",
      stored.name, old_signature, current));
}

void KeyedStateBackend::restore(const std::vector<KeyedSnapshot>& snapshots) {
  restore_rocks_files(snapshots);
  for (const KeyedSnapshot& snapshot : snapshots) {
    for (const StateEntries& state : snapshot.states) {
      auto table = tables_.find(state.name);
      if (table != tables_.end()) {
        StateEntries fitted = state;
        fit_restored(*table->second, fitted);
        table->second->restore_from(fitted, range_);
        continue;
      }
      StateEntries& kept = restored_[state.name];
      kept.name = state.name;
      kept.kind = state.kind;
      for (const StateEntry& entry : state.entries) {
        if (entry.key.size() >= 2 && range_.contains(read_key_group_prefix(entry.key))) {
          kept.entries.push_back(entry);
        }
      }
    }
  }
}

size_t KeyedStateBackend::entry_count() {
  flush_tables();
  size_t n = 0;
  for (const auto& [name, table] : tables_) n += table->entry_count();
  return n;
}

}  // namespace sluice
