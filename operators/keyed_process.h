// Keyed process functions, with one input or two (co-process): the most
// general keyed operators. The user's
// function object sees each record with its key, keeps keyed state, sets
// event-time and processing-time timers, and emits any number of records.
//
//   struct Dedup {
//     ValueState<bool> seen;
//     void open(KeyedStateBackend& state) { seen = state.value_state<bool>("seen"); }
//     void process(const Event& e, KeyedContext<std::string, Event>& ctx) {
//       if (!seen.get()) { seen.update(true); ctx.emit(e); }
//     }
//     // optional:
//     void on_timer(Timestamp ts, TimeDomain domain, KeyedContext<std::string, Event>& ctx);
//   };
//
// Each subtask gets its own copy of the function object. Threading: all calls
// on the task thread.
#pragma once

#include <optional>
#include <utility>

#include "operators/keyed_operator.h"

namespace sluice {

template <class K, class Out>
class KeyedContext {
 public:
  KeyedContext(KeyedTimerService& services, Output<Out>& output)
      : services_(services), output_(output) {}

  const K& key() const { return *key_; }
  // The current record's timestamp, or the firing timer's time.
  Timestamp timestamp() const { return timestamp_; }
  Timestamp watermark() const { return services_.current_watermark(); }
  Timestamp processing_time() const { return services_.processing_time(); }

  void register_event_timer(Timestamp ts) { services_.register_event_timer(ts); }
  void delete_event_timer(Timestamp ts) { services_.delete_event_timer(ts); }
  void register_processing_timer(Timestamp ts) { services_.register_processing_timer(ts); }
  void delete_processing_timer(Timestamp ts) { services_.delete_processing_timer(ts); }

  void emit(Out value) { output_.emit(std::move(value), timestamp_); }
  void emit_at(Out value, Timestamp ts) { output_.emit(std::move(value), ts); }

  // Set by the operator before each call.
  void set_scope(const K* key, Timestamp ts) {
    key_ = key;
    timestamp_ = ts;
  }

 private:
  KeyedTimerService& services_;
  Output<Out>& output_;
  const K* key_ = nullptr;
  Timestamp timestamp_ = 0;
};

template <class Fn, class Context>
concept HasOnTimer = requires(Fn f, Timestamp ts, TimeDomain d, Context& c) {
  f.on_timer(ts, d, c);
};

template <class Fn>
concept HasOpen = requires(Fn f, KeyedStateBackend& b) {
  f.open(b);
};

// A keyed operator that runs a user's function object: opens it on the
// backend, hands it each record with its key set, and fires its timers.
// Operator is the one- or two-input operator type, Out its output type,
// Context what the function's calls get (a KeyedContext<K, Out>).
template <class K, class Operator, class Out, class Fn, class Context = KeyedContext<K, Out>>
class KeyedFunctionOperator : public KeyedOperatorBase<K, Operator> {
 protected:
  explicit KeyedFunctionOperator(Fn fn) : fn_(std::move(fn)), context_(*this, this->output_) {}

  Fn& function() { return fn_; }
  Context& function_context() { return context_; }

  // call(fn, const In&, context) per record, with its key current.
  template <class In, class KeyFn, class Call>
  void process_records(Batch<In>& batch, KeyFn& key_of, Call call) {
    for (Record<In>& r : batch) {
      K key = key_of(std::as_const(r.value));
      this->set_key(key);
      context_.set_scope(&key, r.timestamp);
      call(fn_, std::as_const(r.value), context_);
    }
    this->output_.flush();
  }

 private:
  void open_keyed() override {
    if constexpr (HasOpen<Fn>) fn_.open(this->backend());
  }
  void on_event_timer(const Timer& timer) override { fire(timer, TimeDomain::kEventTime); }
  void on_processing_timer(const Timer& timer) override {
    fire(timer, TimeDomain::kProcessingTime);
  }
  void fire(const Timer& timer, TimeDomain domain) {
    if constexpr (HasOnTimer<Fn, Context>) {
      K key = this->decode_current_key();
      context_.set_scope(&key, timer.timestamp);
      fn_.on_timer(timer.timestamp, domain, context_);
    }
  }

  Fn fn_;
  Context context_;
};

template <class In, class Out, class K, class KeyFn, class Fn>
class KeyedProcessOperator final
    : public KeyedFunctionOperator<K, OneInputOperator<In, Out>, Out, Fn> {
 public:
  KeyedProcessOperator(KeyFn key_of, Fn fn)
      : KeyedFunctionOperator<K, OneInputOperator<In, Out>, Out, Fn>(std::move(fn)),
        key_of_(std::move(key_of)) {}

  void process_batch(Batch<In>& batch) override {
    this->process_records(
        batch, key_of_, [](Fn& fn, const In& value, auto& context) { fn.process(value, context); });
  }

 private:
  KeyFn key_of_;
};

// Flink's KeyedCoProcessFunction: two inputs keyed by keys of one type K,
// sharing the function's keyed state and timers.
//   fn.process1(const A&, KeyedContext<K, Out>&)
//   fn.process2(const B&, KeyedContext<K, Out>&)
//   optional: open(KeyedStateBackend&), on_timer(ts, domain, context)
template <class A, class B, class Out, class K, class KeyFnA, class KeyFnB, class Fn>
class KeyedCoProcessOperator final
    : public KeyedFunctionOperator<K, TwoInputOperator<A, B, Out>, Out, Fn> {
 public:
  KeyedCoProcessOperator(KeyFnA key_a, KeyFnB key_b, Fn fn)
      : KeyedFunctionOperator<K, TwoInputOperator<A, B, Out>, Out, Fn>(std::move(fn)),
        key_a_(std::move(key_a)),
        key_b_(std::move(key_b)) {}

  void process_batch1(Batch<A>& batch) override {
    this->process_records(
        batch, key_a_, [](Fn& fn, const A& value, auto& context) { fn.process1(value, context); });
  }
  void process_batch2(Batch<B>& batch) override {
    this->process_records(
        batch, key_b_, [](Fn& fn, const B& value, auto& context) { fn.process2(value, context); });
  }

 private:
  KeyFnA key_a_;
  KeyFnB key_b_;
};

// Rolling aggregation per key: folds each record into the key's accumulator
// and emits the new result. Agg provides create(), add(Acc&, const In&),
// result(const Acc&) (and merge(Acc&, const Acc&) for session windows).
template <class In, class K, class KeyFn, class Agg>
class RollingAggregateOperator final
    : public KeyedOperator<
          In, std::decay_t<decltype(std::declval<Agg>().result(std::declval<Agg>().create()))>, K,
          KeyFn> {
  using Acc = std::decay_t<decltype(std::declval<Agg>().create())>;
  using Out = std::decay_t<decltype(std::declval<Agg>().result(std::declval<Acc>()))>;
  using Base = KeyedOperator<In, Out, K, KeyFn>;

 public:
  RollingAggregateOperator(KeyFn key_of, Agg agg) : Base(std::move(key_of)), agg_(std::move(agg)) {}

  void process_batch(Batch<In>& batch) override {
    for (Record<In>& r : batch) {
      this->set_key(this->key_of(r.value));
      Out result{};
      accumulator_.modify([this] { return agg_.create(); },
                          [&](Acc& acc) {
                            agg_.add(acc, std::as_const(r.value));
                            result = agg_.result(acc);
                          });
      this->output_.emit(std::move(result), r.timestamp);
    }
    this->output_.flush();
  }

 private:
  void open_keyed() override { accumulator_ = this->backend().template value_state<Acc>("acc"); }

  Agg agg_;
  ValueState<Acc> accumulator_;
};

// Turns a reduce function (T, T) -> T into an aggregate function.
template <class T, class ReduceFn>
struct ReduceAggregate {
  ReduceFn reduce;
  std::optional<T> create() const { return std::nullopt; }
  void add(std::optional<T>& acc, const T& value) const {
    if (acc) {
      acc = reduce(*acc, value);
    } else {
      acc = value;
    }
  }
  T result(const std::optional<T>& acc) const { return *acc; }
  void merge(std::optional<T>& into, const std::optional<T>& from) const {
    if (from) add(into, *from);
  }
};

}  // namespace sluice
