// Keyed state handles, as user functions see them: ValueState, ListState,
// MapState and ReducingState. A handle reads and writes the entry of the
// backend's current key and namespace, which the operator sets before it
// calls the user function.
//
// Threading: a handle belongs to one operator subtask and is used only on
// that subtask's task thread. Handles are cheap to copy; they stay valid for
// the lifetime of the backend that made them.
#pragma once

#include <map>
#include <optional>
#include <utility>
#include <vector>

namespace sluice {

// Storage of one value state; implemented per backend.
template <class V>
class ValueTable {
 public:
  virtual ~ValueTable() = default;
  // The value of the current key and namespace, or nullptr. The pointer is
  // valid until the next write to this state.
  virtual const V* get() = 0;
  virtual void put(V value) = 0;
  // As put(), for a key and namespace known to have no value: a backend can
  // skip looking for one.
  virtual void put_new(V value) { put(std::move(value)); }
  virtual void clear() = 0;
  // In-place update: find_for_update or insert_for_update, mutate the
  // returned value, then finish_update (which persists it where needed).
  virtual V* find_for_update() = 0;
  virtual V& insert_for_update(V initial) = 0;
  virtual void finish_update() = 0;
};

template <class V>
class ListTable {
 public:
  virtual ~ListTable() = default;
  virtual const std::vector<V>* get() = 0;
  virtual void add(V value) = 0;
  virtual void put(std::vector<V> values) = 0;
  // As put(), for a key and namespace known to have no elements.
  virtual void put_new(std::vector<V> values) { put(std::move(values)); }
  virtual void clear() = 0;
};

template <class UK, class UV>
class MapTable {
 public:
  virtual ~MapTable() = default;
  virtual const std::map<UK, UV>* get_all() = 0;
  virtual const UV* get(const UK& key) = 0;
  virtual void put(const UK& key, UV value) = 0;
  virtual void remove(const UK& key) = 0;
  virtual void clear() = 0;
};

template <class V>
class ValueState {
 public:
  ValueState() = default;
  explicit ValueState(ValueTable<V>* table) : table_(table) {}

  std::optional<V> value() const {
    const V* v = table_->get();
    return v ? std::optional<V>(*v) : std::nullopt;
  }
  const V* get() const { return table_->get(); }
  void update(V value) { table_->put(std::move(value)); }
  // As update(), when the current key and namespace are known to have no
  // value (e.g. a window that just started): cheaper with RocksDB state.
  void create(V value) { table_->put_new(std::move(value)); }
  void clear() { table_->clear(); }

  // Mutates the value in place, creating it with `init()` when absent.
  template <class Init, class Mutate>
  void modify(Init&& init, Mutate&& mutate) {
    V* v = table_->find_for_update();
    if (v == nullptr) v = &table_->insert_for_update(init());
    mutate(*v);
    table_->finish_update();
  }

 private:
  ValueTable<V>* table_ = nullptr;
};

template <class V>
class ListState {
 public:
  ListState() = default;
  explicit ListState(ListTable<V>* table) : table_(table) {}

  // The elements, or an empty list.
  std::vector<V> get() const {
    const std::vector<V>* v = table_->get();
    return v ? *v : std::vector<V>{};
  }
  // Read-only view without a copy; nullptr when empty. Valid until the next
  // state access.
  const std::vector<V>* view() const { return table_->get(); }
  void add(V value) { table_->add(std::move(value)); }
  void update(std::vector<V> values) { table_->put(std::move(values)); }
  // As update(), when the current key and namespace are known to have no
  // elements.
  void create(std::vector<V> values) { table_->put_new(std::move(values)); }
  void clear() { table_->clear(); }

 private:
  ListTable<V>* table_ = nullptr;
};

template <class UK, class UV>
class MapState {
 public:
  MapState() = default;
  explicit MapState(MapTable<UK, UV>* table) : table_(table) {}

  std::optional<UV> get(const UK& key) const {
    const UV* v = table_->get(key);
    return v ? std::optional<UV>(*v) : std::nullopt;
  }
  bool contains(const UK& key) const { return table_->get(key) != nullptr; }
  void put(const UK& key, UV value) { table_->put(key, std::move(value)); }
  void remove(const UK& key) { table_->remove(key); }
  // All entries, ordered by key.
  std::map<UK, UV> entries() const {
    const std::map<UK, UV>* m = table_->get_all();
    return m ? *m : std::map<UK, UV>{};
  }
  // Calls fn(key, value) for the entries with from <= key <= to, in key
  // order, without copying them.
  template <class Fn>
  void for_each_in(const UK& from, const UK& to, Fn fn) const {
    const std::map<UK, UV>* m = table_->get_all();
    if (m == nullptr || to < from) return;
    for (auto it = m->lower_bound(from); it != m->end() && !(to < it->first); ++it) {
      fn(it->first, it->second);
    }
  }
  bool empty() const {
    const std::map<UK, UV>* m = table_->get_all();
    return m == nullptr || m->empty();
  }
  void clear() { table_->clear(); }

 private:
  MapTable<UK, UV>* table_ = nullptr;
};

// A value that folds every added element with a reduce function.
template <class V, class ReduceFn>
class ReducingState {
 public:
  ReducingState() = default;
  ReducingState(ValueTable<V>* table, ReduceFn fn) : value_(table), fn_(std::move(fn)) {}

  std::optional<V> get() const { return value_.value(); }
  void add(const V& element) {
    bool fresh = false;
    value_.modify(
        [&] {
          fresh = true;
          return element;
        },
        [&](V& acc) {
          if (!fresh) acc = fn_(acc, element);
        });
  }
  void clear() { value_.clear(); }

 private:
  ValueState<V> value_;
  ReduceFn fn_;
};

}  // namespace sluice
