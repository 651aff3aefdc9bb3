// The write cache in front of one RocksDB state table (the role Kafka
// Streams' record cache plays): decoded values of recently used keys, so a
// record that reads and updates its key's state decodes nothing, encodes
// nothing and calls RocksDB not at all when the key is cached. Updates are
// kept as dirty entries; the table writes them in one WriteBatch when the
// cache is full and before every snapshot. A looked-up absent key is cached
// too (present == false), since new windows and new keys are the common
// miss.
//
// Entries are addressed by their RocksDB key. Pointers to entries stay valid
// until the cache is emptied: only insert() empties it (when full, before
// inserting) and clear().
//
// Threading: as the table that owns it (one task thread).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "state/string_hash.h"

namespace sluice {

template <class Cached>
class WriteCache {
 public:
  struct Entry {
    Cached value{};
    bool present = false;  // false: the key has no value (read as absent, or removed)
    bool dirty = false;    // differs from what RocksDB holds
    // RocksDB may hold a value for the key; false when it is known not to
    // (read as absent, or created as new), so removing it writes nothing.
    bool maybe_stored = true;
  };

  explicit WriteCache(size_t capacity) : capacity_(capacity > 0 ? capacity : 1) {}

  Entry* find(std::string_view rocks_key) {
    auto it = entries_.find(rocks_key);
    return it == entries_.end() ? nullptr : &it->second;
  }

  // Inserts an entry for a key that is not cached. When the cache is full,
  // `flush(cache)` is called first and the cache emptied.
  template <class Flush>
  Entry& insert(std::string_view rocks_key, Entry entry, Flush&& flush) {
    if (entries_.size() >= capacity_) {
      flush(*this);
      entries_.clear();
    }
    return entries_.emplace(std::string(rocks_key), std::move(entry)).first->second;
  }

  // Calls `each(rocks_key, entry)` for every dirty entry and marks it clean.
  template <class Each>
  void drain_dirty(Each&& each) {
    for (auto& [key, entry] : entries_) {
      if (!entry.dirty) continue;
      each(std::string_view(key), entry);
      entry.dirty = false;
    }
  }

  void clear() { entries_.clear(); }
  size_t size() const { return entries_.size(); }

 private:
  size_t capacity_;
  std::unordered_map<std::string, Entry, BytesHash, std::equal_to<>> entries_;
};

}  // namespace sluice
