// What a window keeps until it fires: an accumulator (aggregate and reduce
// window functions) or the list of its elements (process window functions).
// Both live in keyed state under the window as namespace.
//
// Threading: on the window operator's task thread.
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include "runtime/state_backend/keyed_state_backend.h"

namespace sluice {

// Keeps Agg's accumulator per window.
template <class T, class Agg>
class AccumulatorContents {
 public:
  using Acc = std::decay_t<decltype(std::declval<Agg>().create())>;
  using Value = Acc;  // what firing sees

  explicit AccumulatorContents(Agg agg) : agg_(std::move(agg)) {}
  void open(KeyedStateBackend& backend) { state_ = backend.value_state<Acc>("window-contents"); }
  // Adds to the current window; returns true when the window was empty.
  bool add(const T& value) {
    bool fresh = false;
    state_.modify(
        [this, &fresh] {
          fresh = true;
          return agg_.create();
        },
        [&](Acc& acc) { agg_.add(acc, value); });
    return fresh;
  }
  // As add(), when the caller knows the window to be empty (`known_empty`):
  // then nothing is read (with RocksDB state, no lookup of a key that is not
  // there).
  bool add(const T& value, bool known_empty) {
    if (!known_empty) return add(value);
    Acc acc = agg_.create();
    agg_.add(acc, value);
    state_.create(std::move(acc));
    return true;
  }
  const Acc* get() { return state_.get(); }
  std::optional<Acc> take() {
    std::optional<Acc> acc = state_.value();
    state_.clear();
    return acc;
  }
  // Folds `other` (taken from a merged-away window) into the current window.
  void merge_in(Acc&& other) {
    bool fresh = false;
    state_.modify(
        [&] {
          fresh = true;
          return std::move(other);
        },
        [&](Acc& acc) {
          if (!fresh) agg_.merge(acc, other);
        });
  }
  void clear() { state_.clear(); }
  const Agg& agg() const { return agg_; }

 private:
  Agg agg_;
  ValueState<Acc> state_;
};

// Keeps every element per window.
template <class T>
class ElementContents {
 public:
  using Value = std::vector<T>;

  void open(KeyedStateBackend& backend) { state_ = backend.list_state<T>("window-contents"); }
  // Adds to the current window; returns true when the window was empty.
  bool add(const T& value) {
    bool fresh = state_.view() == nullptr;
    state_.add(value);
    return fresh;
  }
  // As add(), when the caller knows whether the window is empty: nothing is
  // read (with RocksDB state, an add is a merge).
  bool add(const T& value, bool known_empty) {
    if (known_empty) {
      state_.create({value});
    } else {
      state_.add(value);
    }
    return known_empty;
  }
  const std::vector<T>* get() { return state_.view(); }
  std::optional<std::vector<T>> take() {
    const std::vector<T>* v = state_.view();
    if (v == nullptr) return std::nullopt;
    std::vector<T> out = *v;
    state_.clear();
    return out;
  }
  void merge_in(std::vector<T>&& other) {
    for (T& v : other) state_.add(std::move(v));
  }
  void clear() { state_.clear(); }

 private:
  ListState<T> state_;
};

}  // namespace sluice
