// The portable form of keyed state: what a backend writes at a checkpoint
// and reads at a restore. Each entry is a key (with its 2-byte key-group
// prefix), a namespace and an encoded value, so a restore at another
// parallelism keeps exactly the entries of the key groups it now owns.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/core/codec.h"
#include "runtime/core/versioned.h"

namespace sluice {

struct StateEntry {
  std::string key;  // key-group prefix + encoded key
  std::string ns;   // encoded namespace, empty for none
  std::string value;
  SLUICE_FIELDS(key, ns, value)
};

// All entries of one named state (or timer queue) of one operator subtask.
struct StateEntries {
  std::string name;
  std::string kind;  // "value", "list", "map", "timers"
  std::vector<StateEntry> entries;
  SLUICE_FIELDS(name, kind, entries)
};

// One file of a RocksDB instance kept by a checkpoint: its name in the
// instance's directory and where the checkpoint stored it. SST files are
// immutable and go to the job's shared area, where consecutive checkpoints
// reference one copy (incremental checkpoints); the other files (MANIFEST,
// CURRENT, OPTIONS) are copied into the checkpoint's own directory.
struct RocksFile {
  std::string local;
  std::string stored;
  bool shared = false;
  SLUICE_FIELDS(local, stored, shared)
};

// The native (incremental) form of a RocksDB backend's tables: the files of
// a RocksDB checkpoint of the instance, and the key groups it held.
struct RocksFiles {
  int32_t first_group = 0;
  int32_t last_group = 0;
  std::vector<RocksFile> files;
  SLUICE_FIELDS(first_group, last_group, files)

  // Where the stored files are; set when a checkpoint is read, not stored.
  std::string checkpoint_dir;
  std::string shared_dir;
};

// States a snapshot froze at the barrier and encodes later, off the task
// thread (see state/snapshot_pins.h).
class DeferredStates {
 public:
  virtual ~DeferredStates() = default;
  // Appends the frozen states to `out`. Called once, on any thread; throws
  // SluiceError when the state is gone (its operator closed first).
  virtual void complete(std::vector<StateEntries>& out) = 0;
  // How many states complete() or write() adds.
  virtual size_t count() const = 0;
  // As complete(), but encodes the states straight into `writer`, as that
  // many encoded StateEntries: no entry is built in between.
  virtual void write(ByteWriter& writer) = 0;
};

// The keyed state of one operator subtask: portable entries, plus, for an
// incremental RocksDB snapshot, the instance's files.
struct KeyedSnapshot {
  // Also covers the layout of RocksDB keys and values in `rocks` files.
  static constexpr PersistedFormat kFormat{"keyed state snapshot", 1};
  std::vector<StateEntries> states;
  std::optional<RocksFiles> rocks;
  SLUICE_FIELDS(states, rocks)

  // Set by a backend's snapshot at a barrier, not stored: the states still
  // to add to `states`. Encode a snapshot only after complete_deferred().
  std::shared_ptr<DeferredStates> deferred;
  void complete_deferred() {
    if (deferred == nullptr) return;
    std::shared_ptr<DeferredStates> pending = std::move(deferred);
    pending->complete(states);
  }
};

// The stored form of `snapshot` (encode_versioned with KeyedSnapshot's
// format), its deferred states encoded straight into it; it completes them.
std::string encode_keyed_snapshot(KeyedSnapshot& snapshot);

// A file a snapshot asks the checkpoint writer to store, off the task
// thread: `source` is a path on this machine; it becomes `stored` in the
// shared area or in the checkpoint's directory.
struct FileToStore {
  std::string source;
  std::string stored;
  bool shared = false;
};

// What the writer does besides encoding a snapshot: store files, then remove
// the scratch directories they came from (also when the checkpoint aborts).
struct SnapshotFiles {
  std::vector<FileToStore> files;
  std::vector<std::string> scratch_dirs;
};

}  // namespace sluice
