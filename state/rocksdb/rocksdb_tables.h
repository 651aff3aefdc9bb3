// The RocksDB backend's state tables. A RocksDB key is
//   key group (2 bytes, big-endian) | varint(key length) | key | namespace
// so one key group is one contiguous, ordered range of a column family, and
// key and namespace can be told apart again for snapshots. Values are codec
// bytes, as in the memory backend's snapshots, so snapshots of the two
// backends are interchangeable; a list is stored as length-prefixed
// elements so that adding one is a RocksDB merge, not a read and rewrite.
// Included by keyed_state_backend.h.
//
// Threading: as the backend that owns them (one task thread).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <typeinfo>
#include <vector>

#include "runtime/core/codec.h"
#include "state/key_groups.h"
#include "state/rocksdb/rocksdb_store.h"
#include "state/snapshot.h"

namespace sluice {

RocksStore& backend_rocks_store(KeyedStateBackend& backend);

// Builds the RocksDB key for a key (with its key-group prefix) and namespace.
void make_rocks_key(std::string_view key, std::string_view ns, std::string& out);
// Splits a RocksDB key back into key (with prefix) and namespace.
void split_rocks_key(std::string_view rocks_key, std::string& key, std::string& ns);

template <class Self>
class RocksTableBase : public StateTableBase {
 public:
  RocksTableBase(KeyedStateBackend& backend, const std::string& name)
      : backend_(backend), store_(backend_rocks_store(backend)), cf_(store_.column_family(name)) {}

  const std::type_info& type() const override { return typeid(Self); }

  size_t entry_count() const override {
    size_t n = 0;
    store_.for_each(cf_, [&](std::string_view, std::string_view) { ++n; });
    return n;
  }

  void snapshot_into(StateEntries& out) const override {
    out.kind = Self::kKind;
    store_.for_each(cf_, [&](std::string_view rocks_key, std::string_view value) {
      StateEntry entry;
      split_rocks_key(rocks_key, entry.key, entry.ns);
      entry.value = Self::to_portable(value);
      out.entries.push_back(std::move(entry));
    });
  }

  void restore_from(const StateEntries& in, KeyGroupRange range) override {
    std::string rocks_key;
    for (const StateEntry& e : in.entries) {
      if (e.key.size() < 2 || !range.contains(read_key_group_prefix(e.key))) continue;
      make_rocks_key(e.key, e.ns, rocks_key);
      store_.put(cf_, rocks_key, Self::from_portable(e.value));
    }
  }

 protected:
  // The RocksDB key of the backend's current key and namespace.
  std::string_view current_key() {
    CurrentScope scope = backend_scope(backend_);
    make_rocks_key(scope.key, scope.ns, key_);
    return key_;
  }
  bool load(std::string& out) { return store_.get(cf_, current_key(), out); }
  void store(std::string_view bytes) { store_.put(cf_, current_key(), bytes); }
  void erase() { store_.remove(cf_, current_key()); }
  void append(std::string_view bytes) { store_.append(cf_, current_key(), bytes); }

  std::string bytes_;  // scratch for values

 private:
  KeyedStateBackend& backend_;
  RocksStore& store_;
  int cf_;
  std::string key_;
};

template <class V>
class RocksValueTable final : public ValueTable<V>, public RocksTableBase<RocksValueTable<V>> {
  using Base = RocksTableBase<RocksValueTable<V>>;

 public:
  static constexpr const char* kKind = "value";
  RocksValueTable(KeyedStateBackend& backend, const std::string& name) : Base(backend, name) {}
  const char* kind() const override { return kKind; }
  static std::string to_portable(std::string_view stored) { return std::string(stored); }
  static std::string from_portable(const std::string& portable) { return portable; }

  const V* get() override {
    if (!this->load(this->bytes_)) return nullptr;
    value_ = decode_from_string<V>(this->bytes_);
    return &*value_;
  }
  void put(V value) override { this->store(encode_to_string(value)); }
  void clear() override { this->erase(); }
  V* find_for_update() override { return const_cast<V*>(get()); }
  V& insert_for_update(V initial) override {
    value_ = std::move(initial);
    return *value_;
  }
  void finish_update() override { this->store(encode_to_string(*value_)); }

 private:
  std::optional<V> value_;  // the last value read or being updated
};

template <class V>
class RocksListTable final : public ListTable<V>, public RocksTableBase<RocksListTable<V>> {
  using Base = RocksTableBase<RocksListTable<V>>;

 public:
  static constexpr const char* kKind = "list";
  RocksListTable(KeyedStateBackend& backend, const std::string& name) : Base(backend, name) {}
  const char* kind() const override { return kKind; }

  // Stored: [varint length][element] ...; portable: Codec<std::vector<V>>.
  static std::string to_portable(std::string_view stored) {
    return encode_to_string(decode_elements(stored));
  }
  static std::string from_portable(const std::string& portable) {
    return encode_elements(decode_from_string<std::vector<V>>(portable));
  }

  const std::vector<V>* get() override {
    if (!this->load(this->bytes_)) return nullptr;
    values_ = decode_elements(this->bytes_);
    return values_.empty() ? nullptr : &values_;
  }
  void add(V value) override { this->append(encode_elements({std::move(value)})); }
  void put(std::vector<V> values) override {
    if (values.empty()) {
      this->erase();
    } else {
      this->store(encode_elements(values));
    }
  }
  void clear() override { this->erase(); }

 private:
  static std::string encode_elements(const std::vector<V>& values) {
    std::string out;
    ByteWriter writer(out);
    std::string element;
    for (const V& v : values) {
      element.clear();
      ByteWriter element_writer(element);
      Codec<V>::encode(v, element_writer);
      writer.write_varint(element.size());
      writer.write_bytes(element.data(), element.size());
    }
    return out;
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

  std::vector<V> values_;
};

template <class UK, class UV>
class RocksMapTable final : public MapTable<UK, UV>, public RocksTableBase<RocksMapTable<UK, UV>> {
  using Base = RocksTableBase<RocksMapTable<UK, UV>>;

 public:
  static constexpr const char* kKind = "map";
  RocksMapTable(KeyedStateBackend& backend, const std::string& name) : Base(backend, name) {}
  const char* kind() const override { return kKind; }
  static std::string to_portable(std::string_view stored) { return std::string(stored); }
  static std::string from_portable(const std::string& portable) { return portable; }

  const std::map<UK, UV>* get_all() override {
    if (!this->load(this->bytes_)) return nullptr;
    map_ = decode_from_string<std::map<UK, UV>>(this->bytes_);
    return &map_;
  }
  const UV* get(const UK& key) override {
    const std::map<UK, UV>* m = get_all();
    if (m == nullptr) return nullptr;
    auto it = m->find(key);
    return it == m->end() ? nullptr : &it->second;
  }
  void put(const UK& key, UV value) override {
    if (get_all() == nullptr) map_.clear();
    map_.insert_or_assign(key, std::move(value));
    this->store(encode_to_string(map_));
  }
  void remove(const UK& key) override {
    if (get_all() == nullptr) return;
    map_.erase(key);
    if (map_.empty()) {
      this->erase();
    } else {
      this->store(encode_to_string(map_));
    }
  }
  void clear() override { this->erase(); }

 private:
  std::map<UK, UV> map_;  // the last map read
};

}  // namespace sluice
