// The RocksDB backend's state tables. A RocksDB key is
//   key group (2 bytes, big-endian) | varint(key length) | key | namespace
// so one key group is one contiguous, ordered range of a column family, and
// key and namespace can be told apart again for snapshots. Values are codec
// bytes, as in the memory backend's snapshots, so snapshots of the two
// backends are interchangeable; a list is stored as length-prefixed
// elements so that adding one is a RocksDB merge, not a read and rewrite.
// Every table reads and writes through its write cache (write_cache.h):
// values are decoded once when a key is first used and encoded once when the
// cache writes them back, in one WriteBatch, when it is full or before a
// snapshot (the backend calls flush()). The backend that creates them is
// runtime/state_backend/keyed_state_backend.h.
//
// Threading: as the backend that owns them (one task thread).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include "runtime/core/codec.h"
#include "state/key_groups.h"
#include "state/rocksdb/rocksdb_store.h"
#include "state/rocksdb/write_cache.h"
#include "state/snapshot.h"
#include "state/state.h"
#include "state/state_table.h"

namespace sluice {

// Builds the RocksDB key for a key (with its key-group prefix) and namespace.
void make_rocks_key(std::string_view key, std::string_view ns, std::string& out);
// Splits a RocksDB key back into key (with prefix) and namespace.
void split_rocks_key(std::string_view rocks_key, std::string& key, std::string& ns);
// The portable form of a value a RocksDB table of kind `kind` stored, for
// a state whose type is not known here (restored, not declared in this
// run): a list's [varint length][element]... becomes the element count,
// then the elements (Codec<std::vector<V>>); other kinds store it as it is.
std::string portable_from_stored(std::string_view kind, std::string_view stored);

template <class Self, class Cached>
class RocksTableBase : public StateTableBase {
 public:
  RocksTableBase(const KeyScope& scope, RocksStore& store, const std::string& name)
      : scope_(scope),
        store_(store),
        cf_(store_.column_family(name)),
        cache_(store_.options().write_cache_entries) {}

  const std::type_info& type() const override { return typeid(Self); }

  void flush() override { write_dirty(cache_); }
  bool in_rocks_instance() const override { return true; }

  size_t entry_count() const override {
    size_t n = 0;
    store_.for_each(cf_, [&](std::string_view, std::string_view) { ++n; });
    return n;
  }

  void snapshot_into(StateEntries& out) const override {
    out.kind = this->stored_kind();
    store_.for_each(cf_, [&](std::string_view rocks_key, std::string_view value) {
      StateEntry entry;
      split_rocks_key(rocks_key, entry.key, entry.ns);
      entry.value = Self::to_portable(value);
      out.entries.push_back(std::move(entry));
    });
  }

  std::string value_signature() const override {
    return codec_signature<typename Self::Portable>();
  }
  // Also the values restored with the instance's files (a native
  // snapshot records its tables' kinds as entries without values).
  bool upgrade_values(StateEntries& entries, std::string_view stored) override {
    if (!upgrade_portable_values<typename Self::Portable>(entries, stored)) return false;
    // Only what the instance's files brought, once: later values are current.
    if (std::exchange(values_current_, true)) return true;
    flush();
    StateEntries held;
    held.name = entries.name;
    store_.for_each(cf_, [&](std::string_view rocks_key, std::string_view value) {
      held.entries.push_back(StateEntry{std::string(rocks_key), "", Self::to_portable(value)});
    });
    upgrade_portable_values<typename Self::Portable>(held, stored);
    for (const StateEntry& entry : held.entries) {
      store_.put(cf_, entry.key, Self::from_portable(entry.value));
    }
    cache_.clear();
    last_ = nullptr;
    return true;
  }

  void restore_from(const StateEntries& in, KeyGroupRange range) override {
    flush();
    cache_.clear();
    last_ = nullptr;
    values_current_ = true;
    std::string rocks_key;
    for (const StateEntry& e : in.entries) {
      if (e.key.size() < 2 || !range.contains(read_key_group_prefix(e.key))) continue;
      make_rocks_key(e.key, e.ns, rocks_key);
      store_.put(cf_, rocks_key, Self::from_portable(e.value));
    }
  }

 protected:
  using Cache = WriteCache<Cached>;
  using Entry = typename Cache::Entry;

  // The cache entry of the current key and namespace, read from RocksDB
  // (and decoded by Self::decode_stored) when it is not cached.
  Entry& current_entry() {
    if (Entry* cached = cached_current()) return *cached;
    Entry loaded;
    if (load_current(bytes_)) {
      loaded.value = Self::decode_stored(bytes_);
      loaded.present = true;
    }
    loaded.maybe_stored = loaded.present;
    return insert_current(std::move(loaded));
  }
  // The current key's entry when it is cached, without reading RocksDB.
  // Afterwards key_ is the current scope's RocksDB key, for the
  // insert_current() or load_current() that follows a miss.
  Entry* cached_current() {
    CurrentScope scope = current_scope(scope_);
    if (last_ != nullptr && last_epoch_ == scope.key_epoch && last_ns_ == scope.ns) return last_;
    make_rocks_key(scope.key, scope.ns, key_);
    Entry* found = cache_.find(key_);
    if (found != nullptr) remember(found, scope);
    return found;
  }
  // Caches `entry` for the current key, which cached_current() just missed.
  Entry& insert_current(Entry entry) {
    Entry& inserted = cache_.insert(key_, std::move(entry), [this](Cache& c) { write_dirty(c); });
    remember(&inserted, current_scope(scope_));
    return inserted;
  }
  // The current key's entry, to be overwritten whatever it held.
  Entry& entry_to_overwrite() {
    if (Entry* cached = cached_current()) return *cached;
    return insert_current(Entry{});
  }
  // The current key's entry, to be overwritten: the key is known to have
  // no value, in RocksDB too unless it is cached.
  Entry& new_entry() {
    if (Entry* cached = cached_current()) return *cached;
    Entry entry;
    entry.maybe_stored = false;
    return insert_current(std::move(entry));
  }
  // Writes an entry without a value back: a delete, unless RocksDB is known
  // not to hold the key.
  static void write_removal(RocksStore::Batch& batch, int cf, std::string_view rocks_key,
                            Entry& entry) {
    if (entry.maybe_stored) batch.remove(cf, rocks_key);
    entry.maybe_stored = false;
  }
  // Reads the stored bytes of the current key (bypassing the cache); key_
  // is current after cached_current().
  bool load_current(std::string& out) { return store_.get(cf_, key_, out); }

  std::string bytes_;  // scratch for values

 private:
  void remember(Entry* entry, const CurrentScope& scope) {
    last_ = entry;
    last_epoch_ = scope.key_epoch;
    last_ns_.assign(scope.ns);
  }

  void write_dirty(Cache& cache) {
    RocksStore::Batch batch(store_);
    cache.drain_dirty([&](std::string_view rocks_key, Entry& entry) {
      static_cast<Self*>(this)->write_entry(batch, cf_, rocks_key, entry);
    });
    store_.write(batch);
    last_ = nullptr;  // the cache may be emptied next
  }

  const KeyScope& scope_;
  RocksStore& store_;
  int cf_;
  Cache cache_;
  std::string key_;
  // Values written in this run or upgraded: none is in an older layout.
  bool values_current_ = false;
  // The entry of the last access, for the next access to the same scope.
  Entry* last_ = nullptr;
  uint64_t last_epoch_ = 0;
  std::string last_ns_;
};

template <class V>
class RocksValueTable final : public ValueTable<V>, public RocksTableBase<RocksValueTable<V>, V> {
  using Base = RocksTableBase<RocksValueTable<V>, V>;

 public:
  using Portable = V;

 private:
  using Entry = typename Base::Entry;

 public:
  static constexpr const char* kKind = "value";
  RocksValueTable(const KeyScope& scope, RocksStore& store, const std::string& name)
      : Base(scope, store, name) {}
  const char* kind() const override { return kKind; }
  static std::string to_portable(std::string_view stored) { return std::string(stored); }
  static std::string from_portable(const std::string& portable) { return portable; }
  static V decode_stored(std::string_view stored) { return decode_from_string<V>(stored); }

  const V* get() override {
    Entry& entry = this->current_entry();
    return entry.present ? &entry.value : nullptr;
  }
  void put(V value) override {
    Entry& entry = this->entry_to_overwrite();
    entry.value = std::move(value);
    entry.present = entry.dirty = true;
  }
  void put_new(V value) override {
    Entry& entry = this->new_entry();
    entry.value = std::move(value);
    entry.present = entry.dirty = true;
  }
  void clear() override {
    Entry& entry = this->entry_to_overwrite();
    entry.value = V{};
    entry.present = false;
    entry.dirty = true;
  }
  V* find_for_update() override {
    Entry& entry = this->current_entry();
    return entry.present ? &entry.value : nullptr;
  }
  V& insert_for_update(V initial) override {
    Entry& entry = this->entry_to_overwrite();
    entry.value = std::move(initial);
    entry.present = true;
    return entry.value;
  }
  void finish_update() override { this->entry_to_overwrite().dirty = true; }

  void write_entry(RocksStore::Batch& batch, int cf, std::string_view rocks_key, Entry& entry) {
    if (!entry.present) {
      Base::write_removal(batch, cf, rocks_key, entry);
      return;
    }
    this->bytes_.clear();
    ByteWriter writer(this->bytes_);
    Codec<V>::encode(entry.value, writer);
    batch.put(cf, rocks_key, this->bytes_);
    entry.maybe_stored = true;
  }
};

// A cached list. `complete`: the elements are the whole list; otherwise
// they were added after stored elements that have not been read (and are
// written back as a merge, with no read).
template <class V>
struct CachedList {
  std::vector<V> elements;
  bool complete = true;
};

template <class V>
class RocksListTable final : public ListTable<V>,
                             public RocksTableBase<RocksListTable<V>, CachedList<V>> {
  using Base = RocksTableBase<RocksListTable<V>, CachedList<V>>;

 public:
  using Portable = std::vector<V>;

 private:
  using Entry = typename Base::Entry;

 public:
  static constexpr const char* kKind = "list";
  RocksListTable(const KeyScope& scope, RocksStore& store, const std::string& name)
      : Base(scope, store, name) {}
  const char* kind() const override { return kKind; }

  // Stored: [varint length][element] ...; portable: Codec<std::vector<V>>.
  static std::string to_portable(std::string_view stored) {
    return encode_to_string(decode_elements(stored));
  }
  static std::string from_portable(const std::string& portable) {
    std::string out;
    append_elements(decode_from_string<std::vector<V>>(portable), out);
    return out;
  }
  static CachedList<V> decode_stored(std::string_view stored) {
    return CachedList<V>{decode_elements(stored), true};
  }

  const std::vector<V>* get() override {
    Entry& entry = this->current_entry();
    if (entry.present && !entry.value.complete) read_stored_elements(entry);
    return entry.present && !entry.value.elements.empty() ? &entry.value.elements : nullptr;
  }
  void add(V value) override {
    Entry* entry = this->cached_current();
    if (entry == nullptr) {
      entry = &this->insert_current(Entry{CachedList<V>{{}, /*complete=*/false}, true, false});
    } else if (!entry->present) {
      entry->value = CachedList<V>{};
      entry->present = true;
    }
    entry->value.elements.push_back(std::move(value));
    entry->dirty = true;
  }
  void put(std::vector<V> values) override {
    replace(this->entry_to_overwrite(), std::move(values));
  }
  void put_new(std::vector<V> values) override { replace(this->new_entry(), std::move(values)); }
  void clear() override { put({}); }

  void write_entry(RocksStore::Batch& batch, int cf, std::string_view rocks_key, Entry& entry) {
    CachedList<V>& list = entry.value;
    if (!entry.present || (list.complete && list.elements.empty())) {
      Base::write_removal(batch, cf, rocks_key, entry);
      return;
    }
    this->bytes_.clear();
    append_elements(list.elements, this->bytes_);
    entry.maybe_stored = true;
    if (list.complete) {
      batch.put(cf, rocks_key, this->bytes_);
    } else {
      batch.append(cf, rocks_key, this->bytes_);
      list.elements.clear();  // stored now: no longer added since the last read
    }
  }

 private:
  static void replace(Entry& entry, std::vector<V> values) {
    entry.present = !values.empty();
    entry.value = CachedList<V>{std::move(values), true};
    entry.dirty = true;
  }
  // Puts the stored elements before the ones added since.
  void read_stored_elements(Entry& entry) {
    std::vector<V> all;
    if (this->load_current(this->bytes_)) all = decode_elements(this->bytes_);
    for (V& v : entry.value.elements) all.push_back(std::move(v));
    entry.value = CachedList<V>{std::move(all), true};
  }
  static void append_elements(const std::vector<V>& values, std::string& out) {
    ByteWriter writer(out);
    std::string element;
    for (const V& v : values) {
      element.clear();
      ByteWriter element_writer(element);
      Codec<V>::encode(v, element_writer);
      writer.write_varint(element.size());
      writer.write_bytes(element.data(), element.size());
    }
  }
  static std::vector<V> decode_elements(std::string_view stored) {
    std::vector<V> values;
    ByteReader reader(stored);
    while (!reader.at_end()) {
      size_t n = reader.read_varint();
      values.push_back(decode_from_string<V>(reader.read_view(n)));
    }
    return values;
  }
};

template <class UK, class UV>
class RocksMapTable final : public MapTable<UK, UV>,
                            public RocksTableBase<RocksMapTable<UK, UV>, std::map<UK, UV>> {
  using Base = RocksTableBase<RocksMapTable<UK, UV>, std::map<UK, UV>>;

 public:
  using Portable = std::map<UK, UV>;

 private:
  using Entry = typename Base::Entry;

 public:
  static constexpr const char* kKind = "map";
  RocksMapTable(const KeyScope& scope, RocksStore& store, const std::string& name)
      : Base(scope, store, name) {}
  const char* kind() const override { return kKind; }
  static std::string to_portable(std::string_view stored) { return std::string(stored); }
  static std::string from_portable(const std::string& portable) { return portable; }
  static std::map<UK, UV> decode_stored(std::string_view stored) {
    return decode_from_string<std::map<UK, UV>>(stored);
  }

  const std::map<UK, UV>* get_all() override {
    Entry& entry = this->current_entry();
    return entry.present ? &entry.value : nullptr;
  }
  const UV* get(const UK& key) override {
    const std::map<UK, UV>* m = get_all();
    if (m == nullptr) return nullptr;
    auto it = m->find(key);
    return it == m->end() ? nullptr : &it->second;
  }
  void put(const UK& key, UV value) override {
    Entry& entry = this->current_entry();
    if (!entry.present) entry.value.clear();
    entry.value.insert_or_assign(key, std::move(value));
    entry.present = entry.dirty = true;
  }
  void remove(const UK& key) override {
    Entry& entry = this->current_entry();
    if (!entry.present || entry.value.erase(key) == 0) return;
    entry.present = !entry.value.empty();
    entry.dirty = true;
  }
  void clear() override {
    Entry& entry = this->entry_to_overwrite();
    entry.value.clear();
    entry.present = false;
    entry.dirty = true;
  }

  void write_entry(RocksStore::Batch& batch, int cf, std::string_view rocks_key, Entry& entry) {
    if (!entry.present || entry.value.empty()) {
      Base::write_removal(batch, cf, rocks_key, entry);
      return;
    }
    this->bytes_.clear();
    ByteWriter writer(this->bytes_);
    Codec<std::map<UK, UV>>::encode(entry.value, writer);
    batch.put(cf, rocks_key, this->bytes_);
    entry.maybe_stored = true;
  }
};

}  // namespace sluice
