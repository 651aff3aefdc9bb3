// The broadcast state pattern (Flink's BroadcastProcessFunction and
// KeyedBroadcastProcessFunction): a second stream, sent whole to every
// subtask (rules, configuration), writes a map that each subtask holds in
// full, and the main input, keyed or not, reads it.
//
//   struct ApplyRules {
//     // main input: read-only view of the rules
//     void process(const Event& e, KeyedBroadcastContext<std::string, std::string, Rule, Out>& c);
//     // broadcast input: the only writer
//     void process_broadcast(const Rule& r, BroadcastContext<std::string, Rule, Out>& c);
//     // optional, keyed variant: open(KeyedStateBackend&), on_timer(ts, domain, context)
//   };
//
// Every subtask must change its copy the same way from the same broadcast
// records (the function may not read the main input's state when it writes
// the broadcast state), so the copies stay equal. A checkpoint then stores
// the state once, from subtask 0, and a restore hands that copy to every new
// subtask, at any parallelism. With unaligned checkpoints the subtasks
// snapshot at different points of the broadcast input, so each stores its
// own copy and new subtask i takes old copy i modulo the old parallelism
// (its recorded in-flight input continues exactly that copy when the
// parallelism is unchanged).
//
// The order in which the two inputs' records meet is not defined; functions
// that need determinism act in event time (buffer the main input until the
// watermark, which covers both inputs, passes it).
//
// Threading: on the task thread.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "operators/keyed_process.h"
#include "runtime/core/versioned.h"

namespace sluice {

inline constexpr PersistedFormat kBroadcastStateFormat{"broadcast state", 1};

// Names a broadcast state and its key and value types (both need codecs).
template <class UK, class UV>
struct BroadcastStateDescriptor {
  std::string name;
};

// One subtask's copy of the broadcast state.
template <class UK, class UV>
class BroadcastState {
 public:
  const UV* get(const UK& key) const {
    auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : &it->second;
  }
  bool contains(const UK& key) const { return entries_.count(key) != 0; }
  const std::map<UK, UV>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }

  void put(const UK& key, UV value) { entries_.insert_or_assign(key, std::move(value)); }
  void remove(const UK& key) { entries_.erase(key); }
  void clear() { entries_.clear(); }

  // What a snapshot of subtask `context.info.subtask` stores: empty for a
  // subtask that leaves it to subtask 0.
  std::string snapshot(const OperatorContext& context) const {
    if (context.info.subtask != 0 && !context.unaligned) return {};
    return encode_versioned(kBroadcastStateFormat, entries_);
  }
  // Takes this subtask's copy from every old subtask's bytes (in old subtask
  // order, empty where a subtask stored none).
  void restore(const std::vector<std::string>& old_subtasks, int subtask) {
    std::vector<const std::string*> stored;
    for (const std::string& bytes : old_subtasks) {
      if (!bytes.empty()) stored.push_back(&bytes);
    }
    if (stored.empty()) return;
    const std::string* mine = stored.front();
    if (stored.size() == old_subtasks.size()) {
      mine = stored[static_cast<size_t>(subtask) % stored.size()];
    }
    entries_ = decode_versioned<std::map<UK, UV>>(kBroadcastStateFormat, *mine);
  }

 private:
  std::map<UK, UV> entries_;
};

// What process_broadcast() gets: the writable state and the output.
template <class UK, class UV, class Out>
class BroadcastContext {
 public:
  BroadcastContext(BroadcastState<UK, UV>& state, Output<Out>& output, Timestamp ts)
      : state_(state), output_(output), timestamp_(ts) {}
  BroadcastState<UK, UV>& state() { return state_; }
  Timestamp timestamp() const { return timestamp_; }
  void emit(Out value) { output_.emit(std::move(value), timestamp_); }

 private:
  BroadcastState<UK, UV>& state_;
  Output<Out>& output_;
  Timestamp timestamp_;
};

// What process() of the non-keyed variant gets: the state, read-only.
template <class UK, class UV, class Out>
class ReadOnlyBroadcastContext {
 public:
  ReadOnlyBroadcastContext(const BroadcastState<UK, UV>& state, Output<Out>& output, Timestamp ts)
      : state_(state), output_(output), timestamp_(ts) {}
  const BroadcastState<UK, UV>& state() const { return state_; }
  Timestamp timestamp() const { return timestamp_; }
  void emit(Out value) { output_.emit(std::move(value), timestamp_); }

 private:
  const BroadcastState<UK, UV>& state_;
  Output<Out>& output_;
  Timestamp timestamp_;
};

// What process() and on_timer() of the keyed variant get: a keyed context
// (key, keyed state through the function's open(), timers) with the
// broadcast state read-only.
template <class K, class UK, class UV, class Out>
class KeyedBroadcastContext : public KeyedContext<K, Out> {
 public:
  using KeyedContext<K, Out>::KeyedContext;
  const BroadcastState<UK, UV>& broadcast_state() const { return *state_; }
  void set_broadcast_state(const BroadcastState<UK, UV>* state) { state_ = state; }

 private:
  const BroadcastState<UK, UV>* state_ = nullptr;
};

// Runs fn.process_broadcast over a batch of broadcast records.
template <class R, class UK, class UV, class Out, class Fn>
void process_broadcast_batch(Fn& fn, Batch<R>& batch, BroadcastState<UK, UV>& state,
                             Output<Out>& output) {
  for (Record<R>& r : batch) {
    BroadcastContext<UK, UV, Out> context(state, output, r.timestamp);
    fn.process_broadcast(std::as_const(r.value), context);
  }
  output.flush();
}

// The non-keyed variant: input 1 the main stream (T), input 2 the
// broadcast stream (R).
template <class T, class R, class Out, class UK, class UV, class Fn>
class BroadcastProcessOperator final : public TwoInputOperator<T, R, Out> {
 public:
  explicit BroadcastProcessOperator(Fn fn) : fn_(std::move(fn)) {}

  void open(OperatorContext& context) override {
    context_ = &context;
    if (context.restore != nullptr) {
      state_.restore(context.restore->operator_states, context.info.subtask);
    }
  }
  OperatorSnapshot snapshot_state(int64_t) override {
    OperatorSnapshot snapshot;
    snapshot.operator_state = state_.snapshot(*context_);
    return snapshot;
  }

  void process_batch1(Batch<T>& batch) override {
    for (Record<T>& r : batch) {
      ReadOnlyBroadcastContext<UK, UV, Out> context(state_, this->output_, r.timestamp);
      fn_.process(std::as_const(r.value), context);
    }
    this->output_.flush();
  }
  void process_batch2(Batch<R>& batch) override {
    process_broadcast_batch(fn_, batch, state_, this->output_);
  }

 private:
  Fn fn_;
  OperatorContext* context_ = nullptr;
  BroadcastState<UK, UV> state_;
};

// The keyed variant: input 1 the keyed main stream (T, key K), input 2 the
// broadcast stream (R). The operator state holds the watermark and the
// broadcast state.
template <class T, class R, class Out, class K, class KeyFn, class UK, class UV, class Fn>
class KeyedBroadcastProcessOperator final
    : public KeyedFunctionOperator<K, TwoInputOperator<T, R, Out>, Out, Fn,
                                   KeyedBroadcastContext<K, UK, UV, Out>> {
 public:
  KeyedBroadcastProcessOperator(KeyFn key_of, Fn fn)
      : KeyedFunctionOperator<K, TwoInputOperator<T, R, Out>, Out, Fn,
                              KeyedBroadcastContext<K, UK, UV, Out>>(std::move(fn)),
        key_of_(std::move(key_of)) {
    this->function_context().set_broadcast_state(&state_);
  }

  void process_batch1(Batch<T>& batch) override {
    this->process_records(
        batch, key_of_, [](Fn& fn, const T& value, auto& context) { fn.process(value, context); });
  }
  void process_batch2(Batch<R>& batch) override {
    process_broadcast_batch(this->function(), batch, state_, this->output_);
  }

 private:
  bool has_operator_state() const override { return true; }
  std::string snapshot_own() override { return state_.snapshot(this->context()); }
  void restore_own(const std::vector<std::string>& old_subtasks) override {
    state_.restore(old_subtasks, this->info_.subtask);
  }

  KeyFn key_of_;
  BroadcastState<UK, UV> state_;
};

}  // namespace sluice
