// The keyed state backend of one operator subtask: it holds the current key
// and namespace, creates state tables, and snapshots and restores them by key
// group.
//
// Threading: one backend per operator subtask, used only on that subtask's
// task thread. Lifecycle: construct with the subtask's key-group range ->
// restore (optional, before any state is created or after; entries are
// handed to tables as they are created) -> create states in open() ->
// set_current_key / set_current_namespace and state access per record ->
// snapshot at checkpoints -> destroy.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include "runtime/core/hash.h"
#include "state/key_groups.h"
#include "state/rocksdb/rocksdb_store.h"
#include "state/snapshot.h"
#include "state/snapshot_pins.h"
#include "state/state.h"
#include "state/state_table.h"
#include "state/timer_queue.h"

namespace sluice {

enum class StateBackendKind { kMemory, kRocksDb };

// Which backend a job's keyed operators use, and how it is set up.
struct StateBackendConfig {
  StateBackendKind kind = StateBackendKind::kMemory;
  // For rocksdb: `directory` is the job's state directory; each operator
  // subtask opens its instance in a subdirectory of it.
  RocksDbOptions rocksdb;
  // For rocksdb: checkpoints store the instance's files, SST files shared
  // between consecutive checkpoints. Off: every checkpoint writes all
  // entries in the portable form (full snapshots, readable by either
  // backend).
  bool incremental_checkpoints = true;
};

class KeyedStateBackend {
 public:
  // `config.rocksdb.directory` is this instance's own directory.
  KeyedStateBackend(const StateBackendConfig& config, KeyGroupRange range, int max_parallelism);
  KeyedStateBackend(StateBackendKind kind, KeyGroupRange range, int max_parallelism)
      : KeyedStateBackend(StateBackendConfig{kind, {}}, range, max_parallelism) {}
  KeyedStateBackend(const KeyedStateBackend&) = delete;
  KeyedStateBackend& operator=(const KeyedStateBackend&) = delete;
  virtual ~KeyedStateBackend();

  StateBackendKind kind() const { return kind_; }
  KeyGroupRange key_group_range() const { return range_; }
  int max_parallelism() const { return max_parallelism_; }

  // Sets the key for the following state accesses. `key_bytes` is the key's
  // codec encoding, `key_hash` its hash_bytes() (the caller has it already
  // for the key group); `group` must be in this backend's range.
  void set_current_key(KeyGroup group, std::string_view key_bytes, uint64_t key_hash);
  void set_current_key(KeyGroup group, std::string_view key_bytes) {
    set_current_key(group, key_bytes, hash_bytes(key_bytes));
  }
  // The current key with its 2-byte key-group prefix.
  std::string_view current_key() const { return scope_.key; }
  KeyGroup current_key_group() const { return group_; }
  uint64_t current_key_hash() const { return scope_.key_hash; }
  // Changes whenever the current key is set: lets tables cache per key.
  uint64_t key_epoch() const { return scope_.key_epoch; }

  // Sets the namespace (e.g. an encoded window); empty for none.
  void set_current_namespace(std::string_view ns_bytes) { scope_.ns.assign(ns_bytes); }
  std::string_view current_namespace() const { return scope_.ns; }

  template <class V>
  ValueState<V> value_state(const std::string& name);
  template <class V>
  ListState<V> list_state(const std::string& name);
  template <class UK, class UV>
  MapState<UK, UV> map_state(const std::string& name);
  template <class V, class ReduceFn>
  ReducingState<V, ReduceFn> reducing_state(const std::string& name, ReduceFn fn) {
    return ReducingState<V, ReduceFn>(value_table<V>(name), std::move(fn));
  }
  template <class V>
  ValueTable<V>* value_table(const std::string& name);
  // The timer queue `name`: restored and snapshotted with the tables; on
  // the heap with either backend.
  TimerQueue& timer_queue(const std::string& name) { return *find_or_create<TimerQueue>(name); }

  // Snapshot of every table in the portable form, plus any restored entries
  // not yet claimed by a table (so a state unused in one run survives to the
  // next checkpoint).
  KeyedSnapshot snapshot();
  // The snapshot for checkpoint `id`, for the checkpoint writer: with
  // incremental RocksDB checkpoints, the instance's files (which `files`
  // tells the writer to store) and the tables outside them (the timers);
  // otherwise, and always when `portable` (a savepoint), every table in the
  // portable form. Tables are frozen, not copied: they are `deferred`, and
  // the writer encodes them while this thread goes on.
  KeyedSnapshot snapshot(int64_t id, SnapshotFiles& files, bool portable = false);
  // Restores from the snapshots of one or more old subtasks (after a
  // rescale), keeping the entries of this backend's key groups. A RocksDB
  // instance snapshot at exactly this backend's key groups is opened as it
  // is; others are copied range by range. Instance snapshots need the
  // rocksdb backend: InputError otherwise.
  void restore(const std::vector<KeyedSnapshot>& snapshots);

  // Total entries over all tables; a rough size measure for progress reports.
  size_t entry_count();

  RocksStore& rocks_store() { return *rocks_; }

 private:
  template <class Table>
  Table* find_or_create(const std::string& name);
  // A new table of this backend: RocksDB tables in its instance, memory
  // tables (and timer queues) with its copy-on-write pins.
  template <class Table>
  std::unique_ptr<Table> make_table(const std::string& name);
  void flush_tables();
  // Flushes, freezes and captures the tables (those outside the RocksDB
  // instance's files when `native`), plus the unclaimed restored entries.
  KeyedSnapshot capture_snapshot(bool native);
  void restore_rocks_files(const std::vector<KeyedSnapshot>& snapshots);
  StateEntries read_unclaimed(const StateEntries& marker);
  // Checks that `stored` (a checkpoint's entries of one state) fits
  // `table`: the same kind, and values of the same type or of an older
  // layout of its struct (upgraded in place). Throws InputError naming the
  // state otherwise.
  static void fit_restored(StateTableBase& table, StateEntries& stored);

  StateBackendKind kind_;
  bool incremental_;
  KeyGroupRange range_;
  int max_parallelism_;
  KeyGroup group_{};
  KeyScope scope_;  // read by every table
  std::map<std::string, std::unique_ptr<StateTableBase>> tables_;
  std::map<std::string, StateEntries> restored_;
  // Copy-on-write of the memory tables; released (writers stopped) by the
  // destructor, before the tables are freed.
  SnapshotPins pins_;
  std::unique_ptr<RocksStore> rocks_;
  // Names this instance's files in checkpoint storage (unique per run).
  std::string rocks_tag_;
  // SST files opened from a checkpoint -> their names in its shared area.
  std::map<std::string, std::string> restored_files_;
};

}  // namespace sluice

#include "state/memory_tables.h"
#include "state/rocksdb/rocksdb_tables.h"

namespace sluice {

template <class Table>
Table* KeyedStateBackend::find_or_create(const std::string& name) {
  auto it = tables_.find(name);
  if (it != tables_.end()) {
    if (it->second->type() != typeid(Table)) {
      throw std::logic_error("state '" + name + "' was declared twice with different types");
    }
    return static_cast<Table*>(it->second.get());
  }
  std::unique_ptr<Table> table = make_table<Table>(name);
  auto restored = restored_.find(name);
  if (restored != restored_.end()) {
    fit_restored(*table, restored->second);
    table->restore_from(restored->second, range_);
    restored_.erase(restored);
  }
  Table* raw = table.get();
  tables_.emplace(name, std::move(table));
  return raw;
}

template <class Table>
std::unique_ptr<Table> KeyedStateBackend::make_table(const std::string& name) {
  if constexpr (std::is_constructible_v<Table, const KeyScope&, RocksStore&, const std::string&>) {
    return std::make_unique<Table>(scope_, *rocks_, name);
  } else {
    return std::make_unique<Table>(scope_, pins_, name);
  }
}

template <class V>
ValueTable<V>* KeyedStateBackend::value_table(const std::string& name) {
  if (kind_ == StateBackendKind::kRocksDb) return find_or_create<RocksValueTable<V>>(name);
  return find_or_create<MemoryValueTable<V>>(name);
}

template <class V>
ValueState<V> KeyedStateBackend::value_state(const std::string& name) {
  return ValueState<V>(value_table<V>(name));
}

template <class V>
ListState<V> KeyedStateBackend::list_state(const std::string& name) {
  if (kind_ == StateBackendKind::kRocksDb) {
    return ListState<V>(find_or_create<RocksListTable<V>>(name));
  }
  return ListState<V>(find_or_create<MemoryListTable<V>>(name));
}

template <class UK, class UV>
MapState<UK, UV> KeyedStateBackend::map_state(const std::string& name) {
  if (kind_ == StateBackendKind::kRocksDb) {
    return MapState<UK, UV>(find_or_create<RocksMapTable<UK, UV>>(name));
  }
  return MapState<UK, UV>(find_or_create<MemoryMapTable<UK, UV>>(name));
}

}  // namespace sluice
