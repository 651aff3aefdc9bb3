// The type-erased base of every state table of a keyed state backend (and
// of its timer queues), for snapshots and bookkeeping.
//
// Threading: as the backend that owns the table (one task thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <typeinfo>

#include "state/key_groups.h"
#include "state/snapshot.h"
#include "state/snapshot_pins.h"

namespace sluice {

// The current key and namespace of a keyed state backend. The backend sets
// them per record; its tables read them on every access.
struct KeyScope {
  std::string key;  // key-group prefix + encoded key
  uint64_t key_hash = 0;
  std::string ns;
  uint64_t key_epoch = 0;  // changes whenever the current key does
};

// The same, as views, for one access.
struct CurrentScope {
  std::string_view key;
  uint64_t key_hash;
  std::string_view ns;
  uint64_t key_epoch;
};

inline CurrentScope current_scope(const KeyScope& scope) {
  return CurrentScope{scope.key, scope.key_hash, scope.ns, scope.key_epoch};
}

class StateTableBase {
 public:
  virtual ~StateTableBase() = default;
  virtual const std::type_info& type() const = 0;
  virtual const char* kind() const = 0;
  // Appends every entry (key with key-group prefix, encoded value).
  virtual void snapshot_into(StateEntries& out) const = 0;
  // Adds the entries whose key group is in `range`.
  virtual void restore_from(const StateEntries& in, KeyGroupRange range) = 0;
  virtual size_t entry_count() const = 0;
  // Writes what the table buffers (a RocksDB table's write cache) to its
  // store; snapshots and entry counts read the store after this.
  virtual void flush() {}
  // Whether the entries live in the backend's RocksDB instance, so that a
  // native (incremental) snapshot of its files holds them.
  virtual bool in_rocks_instance() const { return false; }
  // What a snapshot at a barrier keeps of the table, to encode later on
  // another thread. Tables without copy-on-write encode here.
  virtual std::unique_ptr<TableCapture> capture() {
    StateEntries entries;
    snapshot_into(entries);
    return std::make_unique<EncodedCapture>(std::move(entries));
  }
};

}  // namespace sluice
