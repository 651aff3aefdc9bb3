// The memory backend's state tables: live C++ objects, found by key and then
// by namespace. The key's hash comes with the current key (the keyed
// operator computed it once for the record), so a lookup hashes nothing;
// each table remembers the current key's entry between accesses; and the
// namespaces of one key (a few windows, typically) sit in a small vector.
// Values are encoded only at snapshots. Included by keyed_state_backend.h.
//
// Threading: as the backend that owns them (one task thread).
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <typeinfo>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "runtime/core/codec.h"
#include "runtime/core/hash.h"
#include "state/key_groups.h"
#include "state/snapshot.h"

namespace sluice {

class KeyedStateBackend;

// What a table needs to know about the backend's current scope.
struct CurrentScope {
  std::string_view key;  // key-group prefix + encoded key
  uint64_t key_hash;
  std::string_view ns;
  uint64_t key_epoch;  // changes whenever the current key does
};
CurrentScope backend_scope(const KeyedStateBackend& backend);

// A key of a table: its bytes and their hash, computed once.
struct TableKey {
  std::string bytes;
  uint64_t hash;
};
struct TableKeyView {
  std::string_view bytes;
  uint64_t hash;
};
struct TableKeyHash {
  using is_transparent = void;
  size_t operator()(const TableKey& k) const { return k.hash; }
  size_t operator()(const TableKeyView& k) const { return k.hash; }
};
struct TableKeyEqual {
  using is_transparent = void;
  template <class A, class B>
  bool operator()(const A& a, const B& b) const {
    return a.hash == b.hash && std::string_view(a.bytes) == std::string_view(b.bytes);
  }
};

// The (namespace, value) pairs of one key.
template <class Stored>
using NamespaceSlots = std::vector<std::pair<std::string, Stored>>;

template <class Stored, class Self>
class MemoryTableBase : public StateTableBase {
 public:
  MemoryTableBase(KeyedStateBackend& backend, const std::string&) : backend_(backend) {}

  const std::type_info& type() const override { return typeid(Self); }
  size_t entry_count() const override {
    size_t n = 0;
    for (const auto& [key, slots] : map_) n += slots.size();
    return n;
  }

  void snapshot_into(StateEntries& out) const override {
    out.kind = Self::kKind;
    for (const auto& [key, slots] : map_) {
      for (const auto& [ns, value] : slots) {
        out.entries.push_back(StateEntry{key.bytes, ns, encode_to_string(value)});
      }
    }
  }

  void restore_from(const StateEntries& in, KeyGroupRange range) override {
    for (const StateEntry& e : in.entries) {
      if (e.key.size() < 2 || !range.contains(read_key_group_prefix(e.key))) continue;
      uint64_t hash = hash_bytes(std::string_view(e.key).substr(2));
      NamespaceSlots<Stored>& slots = map_[TableKey{e.key, hash}];
      slots.emplace_back(e.ns, decode_from_string<Stored>(e.value));
    }
    cached_epoch_ = kNoEpoch;
  }

 protected:
  Stored* find() {
    NamespaceSlots<Stored>* slots = current_slots(/*create=*/false);
    if (slots == nullptr) return nullptr;
    std::string_view ns = backend_scope(backend_).ns;
    for (auto& [slot_ns, value] : *slots) {
      if (slot_ns == ns) return &value;
    }
    return nullptr;
  }
  Stored& find_or_insert() {
    if (Stored* existing = find()) return *existing;
    return insert_new(Stored{});
  }
  Stored& insert(Stored value) {
    if (Stored* existing = find()) {
      *existing = std::move(value);
      return *existing;
    }
    return insert_new(std::move(value));
  }
  void erase() {
    NamespaceSlots<Stored>* slots = current_slots(/*create=*/false);
    if (slots == nullptr) return;
    std::string_view ns = backend_scope(backend_).ns;
    auto it = std::find_if(slots->begin(), slots->end(),
                           [&](const auto& slot) { return slot.first == ns; });
    if (it == slots->end()) return;
    if (it != slots->end() - 1) *it = std::move(slots->back());
    slots->pop_back();
    if (slots->empty()) {
      CurrentScope scope = backend_scope(backend_);
      map_.erase(map_.find(TableKeyView{scope.key, scope.key_hash}));
      cached_epoch_ = kNoEpoch;
    }
  }

 private:
  static constexpr uint64_t kNoEpoch = ~uint64_t{0};

  Stored& insert_new(Stored value) {
    NamespaceSlots<Stored>* slots = current_slots(/*create=*/true);
    slots->emplace_back(std::string(backend_scope(backend_).ns), std::move(value));
    return slots->back().second;
  }

  // The current key's slots, remembered until the current key changes.
  NamespaceSlots<Stored>* current_slots(bool create) {
    CurrentScope scope = backend_scope(backend_);
    if (cached_epoch_ == scope.key_epoch && (cached_ != nullptr || !create)) return cached_;
    TableKeyView view{scope.key, scope.key_hash};
    auto it = map_.find(view);
    if (it == map_.end() && create) {
      it = map_.emplace(TableKey{std::string(scope.key), scope.key_hash},
                        NamespaceSlots<Stored>{})
               .first;
    }
    cached_ = it == map_.end() ? nullptr : &it->second;
    cached_epoch_ = scope.key_epoch;
    return cached_;
  }

  KeyedStateBackend& backend_;
  // Open addressing: a lookup is one probe of a flat array, where a node
  // map took a modulo and two dependent cache misses. Inserting moves
  // values, so cached_ is taken again after every insert.
  absl::flat_hash_map<TableKey, NamespaceSlots<Stored>, TableKeyHash, TableKeyEqual> map_;
  uint64_t cached_epoch_ = kNoEpoch;
  NamespaceSlots<Stored>* cached_ = nullptr;
};

template <class V>
class MemoryValueTable final : public ValueTable<V>,
                               public MemoryTableBase<V, MemoryValueTable<V>> {
  using Base = MemoryTableBase<V, MemoryValueTable<V>>;

 public:
  static constexpr const char* kKind = "value";
  MemoryValueTable(KeyedStateBackend& backend, const std::string& name) : Base(backend, name) {}
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
  MemoryListTable(KeyedStateBackend& backend, const std::string& name) : Base(backend, name) {}
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
  MemoryMapTable(KeyedStateBackend& backend, const std::string& name) : Base(backend, name) {}
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
