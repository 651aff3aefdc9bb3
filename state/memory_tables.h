// The memory backend's state tables: live C++ objects, found by key and then
// by namespace. The key's hash comes with the current key (the keyed
// operator computed it once for the record), so a lookup hashes nothing;
// each table remembers the current key's entry between accesses; and the
// namespaces of one key (a few windows, typically) sit in a small vector.
// Values are encoded only at snapshots, off the task thread: a key's node is
// copied on its first write after a snapshot froze it (state/snapshot_pins.h).
// State values must therefore copy deeply (no shared mutable parts).
// The backend that creates them is runtime/state_backend/keyed_state_backend.h.
//
// Threading: as the backend that owns them (one task thread); frozen nodes
// are read by the snapshot writer.
#pragma once

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <typeinfo>
#include <vector>

#include <absl/container/flat_hash_set.h>
#include <absl/container/inlined_vector.h>

#include "runtime/core/codec.h"
#include "runtime/core/hash.h"
#include "state/key_groups.h"
#include "state/snapshot.h"
#include "state/snapshot_pins.h"
#include "state/state.h"
#include "state/state_table.h"

namespace sluice {

// A key of a table: its bytes and their hash, computed once.
struct TableKey {
  std::string bytes;
  uint64_t hash;
};
struct TableKeyView {
  std::string_view bytes;
  uint64_t hash;
};

// The (namespace, value) pairs of one key; the first inside the node, so a
// key with one namespace (one window at a time) costs one allocation.
template <class Stored>
using NamespaceSlots = absl::InlinedVector<std::pair<std::string, Stored>, 1>;

// One key of a memory table, with the version it was last written at.
template <class Stored>
struct MemoryNode {
  TableKey key;
  uint64_t version;
  NamespaceSlots<Stored> slots;
};

// A table's frozen nodes, encoded by the snapshot writer.
template <class Stored>
class MemoryCapture final : public TableCapture {
 public:
  MemoryCapture(std::string kind, std::vector<const MemoryNode<Stored>*> nodes)
      : kind_(kind), nodes_(std::move(nodes)) {}
  void encode_into(StateEntries& out) const override {
    out.kind = kind_;
    for (const MemoryNode<Stored>* node : nodes_) {
      for (const auto& [ns, value] : node->slots) {
        out.entries.push_back(StateEntry{node->key.bytes, ns, encode_to_string(value)});
      }
    }
  }
  void write(ByteWriter& writer) const override {
    Codec<std::string>::encode(kind_, writer);
    write_state_entries(writer, [&](const auto& visit) {
      for (const MemoryNode<Stored>* node : nodes_) {
        for (const auto& [ns, value] : node->slots) visit(node->key.bytes, ns, value);
      }
    });
  }

 private:
  std::string kind_;
  std::vector<const MemoryNode<Stored>*> nodes_;
};

template <class Stored, class Self>
class MemoryTableBase : public StateTableBase {
  using Node = MemoryNode<Stored>;
  // A set element: the node it points to may be replaced by a copy with the
  // same key (copy-on-write), which keeps the set's order and hashes valid.
  struct NodeRef {
    mutable Node* node;
  };
  static TableKeyView view_of(const NodeRef& ref) {
    return TableKeyView{ref.node->key.bytes, ref.node->key.hash};
  }
  static TableKeyView view_of(const TableKeyView& view) { return view; }
  struct NodeHash {
    using is_transparent = void;
    template <class A>
    size_t operator()(const A& a) const {
      return view_of(a).hash;
    }
  };
  struct NodeEqual {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      TableKeyView x = view_of(a);
      TableKeyView y = view_of(b);
      return x.hash == y.hash && x.bytes == y.bytes;
    }
  };

 public:
  MemoryTableBase(const KeyScope& scope, SnapshotPins& pins) : scope_(scope), pins_(pins) {}
  MemoryTableBase(const MemoryTableBase&) = delete;
  MemoryTableBase& operator=(const MemoryTableBase&) = delete;
  ~MemoryTableBase() override {
    for (const NodeRef& ref : nodes_) delete ref.node;
  }

  const std::type_info& type() const override { return typeid(Self); }
  size_t entry_count() const override {
    size_t n = 0;
    for (const NodeRef& ref : nodes_) n += ref.node->slots.size();
    return n;
  }
  // Replaced or erased nodes not freed yet (some a snapshot still reads).
  size_t retired_count() const { return retired_.size(); }

  void snapshot_into(StateEntries& out) const override {
    MemoryCapture<Stored>(this->stored_kind(), frozen_nodes()).encode_into(out);
  }
  std::unique_ptr<TableCapture> capture() override {
    return std::make_unique<MemoryCapture<Stored>>(this->stored_kind(), frozen_nodes());
  }
  std::string value_signature() const override { return codec_signature<Stored>(); }
  bool upgrade_values(StateEntries& entries, std::string_view stored) override {
    return upgrade_portable_values<Stored>(entries, stored);
  }

  void restore_from(const StateEntries& in, KeyGroupRange range) override {
    for (const StateEntry& e : in.entries) {
      if (e.key.size() < 2 || !range.contains(read_key_group_prefix(e.key))) continue;
      uint64_t hash = hash_bytes(std::string_view(e.key).substr(2));
      Node* node = writable_node(TableKeyView{e.key, hash}, /*create=*/true);
      node->slots.emplace_back(e.ns, decode_from_string<Stored>(e.value));
    }
    cached_epoch_ = kNoEpoch;
  }

 protected:
  // The current key and namespace's value for reading: valid until the next
  // write to this table.
  const Stored* find() {
    const Node* node = current_node();
    return node == nullptr ? nullptr : find_slot(*node);
  }
  // The same value, to change in place.
  Stored* find_for_write() {
    if (current_node() == nullptr) return nullptr;
    return find_slot(*current_writable(/*create=*/false));
  }
  Stored& find_or_insert() {
    if (Stored* existing = find_for_write()) return *existing;
    return insert_new(Stored{});
  }
  Stored& insert(Stored value) {
    if (Stored* existing = find_for_write()) {
      *existing = std::move(value);
      return *existing;
    }
    return insert_new(std::move(value));
  }
  void erase() {
    const Node* node = current_node();
    if (node == nullptr || find_slot(*node) == nullptr) return;
    if (node->slots.size() == 1) {
      erase_node();
      return;
    }
    auto& slots = current_writable(/*create=*/false)->slots;
    auto it = std::find_if(slots.begin(), slots.end(), [&](const auto& slot) {
      return slot.first == current_scope(scope_).ns;
    });
    if (it != slots.end() - 1) *it = std::move(slots.back());
    slots.pop_back();
  }

 private:
  static constexpr uint64_t kNoEpoch = ~uint64_t{0};

  // The current namespace's value in `node` (const or not).
  template <class N>
  auto* find_slot(N& node) {
    std::string_view ns = current_scope(scope_).ns;
    for (auto& [slot_ns, value] : node.slots) {
      if (slot_ns == ns) return &value;
    }
    return static_cast<decltype(&node.slots.front().second)>(nullptr);
  }

  Stored& insert_new(Stored value) {
    Node* node = current_writable(/*create=*/true);
    node->slots.emplace_back(std::string(current_scope(scope_).ns), std::move(value));
    return node->slots.back().second;
  }

  // The current key's node, remembered until the current key changes.
  const Node* current_node() {
    CurrentScope scope = current_scope(scope_);
    if (cached_epoch_ == scope.key_epoch) return cached_;
    auto it = nodes_.find(TableKeyView{scope.key, scope.key_hash});
    cached_ = it == nodes_.end() ? nullptr : it->node;
    cached_epoch_ = scope.key_epoch;
    return cached_;
  }

  // The current key's node, safe to change: copied first when a snapshot
  // froze it; created when absent and `create`.
  Node* current_writable(bool create) {
    retired_.release(pins_, RetiredEntries<Node>::kPerWrite);
    const Node* node = current_node();
    if (node != nullptr && !pins_.frozen(node->version)) return const_cast<Node*>(node);
    if (node == nullptr && !create) return nullptr;
    CurrentScope scope = current_scope(scope_);
    cached_ = writable_node(TableKeyView{scope.key, scope.key_hash}, create);
    return cached_;
  }

  Node* writable_node(TableKeyView key, bool create) {
    auto it = nodes_.find(key);
    if (it == nodes_.end()) {
      if (!create) return nullptr;
      auto* node = new Node{TableKey{std::string(key.bytes), key.hash}, pins_.version(), {}};
      nodes_.insert(NodeRef{node});
      return node;
    }
    Node* node = it->node;
    if (!pins_.frozen(node->version)) return node;
    auto* copy = new Node{node->key, pins_.version(), node->slots};
    it->node = copy;
    retired_.add(node, pins_);
    return copy;
  }

  // Removes the current key's node: freed now, or once no snapshot reads it.
  void erase_node() {
    auto it = nodes_.find(TableKeyView{cached_->key.bytes, cached_->key.hash});
    Node* node = it->node;
    nodes_.erase(it);
    if (pins_.frozen(node->version)) {
      retired_.add(node, pins_);
    } else {
      delete node;
    }
    cached_ = nullptr;
  }

  std::vector<const Node*> frozen_nodes() const {
    std::vector<const Node*> nodes;
    nodes.reserve(nodes_.size());
    for (const NodeRef& ref : nodes_) nodes.push_back(ref.node);
    return nodes;
  }

  const KeyScope& scope_;
  SnapshotPins& pins_;
  // Open addressing over node pointers: a lookup is one probe of a flat
  // array and one node; nodes never move, so cached_ survives inserts.
  absl::flat_hash_set<NodeRef, NodeHash, NodeEqual> nodes_;
  // Nodes replaced or erased while frozen: a snapshot still reads them.
  RetiredEntries<Node> retired_;
  uint64_t cached_epoch_ = kNoEpoch;
  Node* cached_ = nullptr;
};

template <class V>
class MemoryValueTable final : public ValueTable<V>,
                               public MemoryTableBase<V, MemoryValueTable<V>> {
  using Base = MemoryTableBase<V, MemoryValueTable<V>>;

 public:
  static constexpr const char* kKind = "value";
  MemoryValueTable(const KeyScope& scope, SnapshotPins& pins, const std::string&)
      : Base(scope, pins) {}
  const char* kind() const override { return kKind; }

  const V* get() override { return Base::find(); }
  void put(V value) override { Base::insert(std::move(value)); }
  void clear() override { Base::erase(); }
  V* find_for_update() override { return Base::find_for_write(); }
  V& insert_for_update(V initial) override { return Base::insert(std::move(initial)); }
  void finish_update() override {}
};

template <class V>
class MemoryListTable final : public ListTable<V>,
                              public MemoryTableBase<std::vector<V>, MemoryListTable<V>> {
  using Base = MemoryTableBase<std::vector<V>, MemoryListTable<V>>;

 public:
  static constexpr const char* kKind = "list";
  MemoryListTable(const KeyScope& scope, SnapshotPins& pins, const std::string&)
      : Base(scope, pins) {}
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
  MemoryMapTable(const KeyScope& scope, SnapshotPins& pins, const std::string&)
      : Base(scope, pins) {}
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
    std::map<UK, UV>* m = Base::find_for_write();
    if (m == nullptr) return;
    m->erase(key);
    if (m->empty()) Base::erase();
  }
  void clear() override { Base::erase(); }
};

}  // namespace sluice
