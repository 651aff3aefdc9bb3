// The memory backend's state tables: hash maps from the composite key (key
// group, key, namespace) to live C++ objects. Values are encoded only at
// snapshots. Included by keyed_state_backend.h; not used directly.
//
// Threading: as the backend that owns them (one task thread).
#pragma once

#include <map>
#include <string>
#include <typeinfo>
#include <unordered_map>
#include <vector>

#include "runtime/core/codec.h"
#include "state/key_groups.h"
#include "state/snapshot.h"
#include "state/string_hash.h"

namespace sluice {

class KeyedStateBackend;
std::string_view backend_composite_key(KeyedStateBackend& backend);

// Common storage: composite key -> Stored, with snapshot and restore.
template <class Stored, class Self>
class MemoryTableBase : public StateTableBase {
 public:
  explicit MemoryTableBase(KeyedStateBackend& backend) : backend_(backend) {}

  const std::type_info& type() const override { return typeid(Self); }
  size_t entry_count() const override { return map_.size(); }

  void snapshot_into(StateEntries& out) const override {
    out.kind = Self::kKind;
    out.entries.reserve(out.entries.size() + map_.size());
    for (const auto& [key, value] : map_) {
      out.entries.emplace_back(key, encode_to_string(value));
    }
  }

  void restore_from(const StateEntries& in, KeyGroupRange range) override {
    for (const auto& [key, bytes] : in.entries) {
      if (key.size() < 2 || !range.contains(read_key_group_prefix(key))) continue;
      map_[key] = decode_from_string<Stored>(bytes);
    }
  }

 protected:
  Stored* find() {
    auto it = map_.find(backend_composite_key(backend_));
    return it == map_.end() ? nullptr : &it->second;
  }
  Stored& find_or_insert() {
    std::string_view key = backend_composite_key(backend_);
    auto it = map_.find(key);
    if (it != map_.end()) return it->second;
    return map_.emplace(std::string(key), Stored{}).first->second;
  }
  Stored& insert(Stored value) {
    std::string_view key = backend_composite_key(backend_);
    auto it = map_.find(key);
    if (it != map_.end()) {
      it->second = std::move(value);
      return it->second;
    }
    return map_.emplace(std::string(key), std::move(value)).first->second;
  }
  void erase() {
    auto it = map_.find(backend_composite_key(backend_));
    if (it != map_.end()) map_.erase(it);
  }

 private:
  KeyedStateBackend& backend_;
  std::unordered_map<std::string, Stored, BytesHash, std::equal_to<>> map_;
};

template <class V>
class MemoryValueTable final : public ValueTable<V>,
                               public MemoryTableBase<V, MemoryValueTable<V>> {
  using Base = MemoryTableBase<V, MemoryValueTable<V>>;

 public:
  static constexpr const char* kKind = "value";
  explicit MemoryValueTable(KeyedStateBackend& backend) : Base(backend) {}
  const char* kind() const override { return kKind; }

  const V* get() override { return Base::find(); }
  void put(V value) override { Base::insert(std::move(value)); }
  void clear() override { Base::erase(); }
  V* find_for_update() override { return Base::find(); }
  V& insert_for_update(V initial) override { return Base::insert(std::move(initial)); }
  void finish_update() override {}
};

template <class V>
class MemoryListTable final : public ListTable<V>,
                              public MemoryTableBase<std::vector<V>, MemoryListTable<V>> {
  using Base = MemoryTableBase<std::vector<V>, MemoryListTable<V>>;

 public:
  static constexpr const char* kKind = "list";
  explicit MemoryListTable(KeyedStateBackend& backend) : Base(backend) {}
  const char* kind() const override { return kKind; }

  const std::vector<V>* get() override {
    const std::vector<V>* v = Base::find();
    return v && !v->empty() ? v : nullptr;
  }
  void add(V value) override { Base::find_or_insert().push_back(std::move(value)); }
  void put(std::vector<V> values) override {
    if (values.empty()) {
      Base::erase();
    } else {
      Base::insert(std::move(values));
    }
  }
  void clear() override { Base::erase(); }
};

template <class UK, class UV>
class MemoryMapTable final : public MapTable<UK, UV>,
                             public MemoryTableBase<std::map<UK, UV>, MemoryMapTable<UK, UV>> {
  using Base = MemoryTableBase<std::map<UK, UV>, MemoryMapTable<UK, UV>>;

 public:
  static constexpr const char* kKind = "map";
  explicit MemoryMapTable(KeyedStateBackend& backend) : Base(backend) {}
  const char* kind() const override { return kKind; }

  const std::map<UK, UV>* get_all() override { return Base::find(); }
  const UV* get(const UK& key) override {
    const std::map<UK, UV>* m = Base::find();
    if (m == nullptr) return nullptr;
    auto it = m->find(key);
    return it == m->end() ? nullptr : &it->second;
  }
  void put(const UK& key, UV value) override {
    Base::find_or_insert().insert_or_assign(key, std::move(value));
  }
  void remove(const UK& key) override {
    std::map<UK, UV>* m = Base::find();
    if (m == nullptr) return;
    m->erase(key);
    if (m->empty()) Base::erase();
  }
  void clear() override { Base::erase(); }
};

}  // namespace sluice
