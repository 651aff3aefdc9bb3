// The type-erased base of every state table of a keyed state backend (and
// of its timer queues), for snapshots and bookkeeping.
//
// Threading: as the backend that owns the table (one task thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>

#include "runtime/core/codec_signature.h"
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
  // The codec signature of the table's portable values
  // (runtime/core/codec_signature.h); empty when not checked (timers).
  virtual std::string value_signature() const { return ""; }
  // Rewrites the values of `entries`, stored with signature `stored` (an
  // older layout of this table's value struct), in the current layout, and
  // so the values the table holds already (restored from a RocksDB
  // instance's files). False when they are of another type.
  virtual bool upgrade_values(StateEntries& /*entries*/, std::string_view /*stored*/) {
    return false;
  }
  // What snapshots record as the entries' kind: "KIND SIGNATURE", or KIND
  // (split_stored_kind() reads it).
  std::string stored_kind() const {
    std::string signature = value_signature();
    return signature.empty() ? std::string(kind()) : std::string(kind()) + " " + signature;
  }
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

// The kind and the value signature (empty when none was recorded) of a
// StateEntries::kind that stored_kind() wrote.
inline std::pair<std::string_view, std::string_view> split_stored_kind(std::string_view stored) {
  size_t space = stored.find(' ');
  if (space == std::string_view::npos) return {stored, {}};
  return {stored.substr(0, space), stored.substr(space + 1)};
}

// upgrade_values() for tables whose portable values are `Portable`.
template <class Portable>
bool upgrade_portable_values(StateEntries& entries, std::string_view stored) {
  if constexpr (HasFields<Portable>) {
    std::optional<size_t> present = leading_fields_of(stored, codec_signature<Portable>());
    if (!present) return false;
    for (StateEntry& entry : entries.entries) {
      ByteReader reader(entry.value);
      Portable value = decode_leading_fields<Portable>(reader, *present);
      if (!reader.at_end()) throw InputError("state '" + entries.name + "': trailing bytes");
      entry.value = encode_to_string(value);
    }
    return true;
  } else {
    return false;
  }
}

}  // namespace sluice
