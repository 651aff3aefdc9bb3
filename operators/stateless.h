// Stateless operators: map, filter, flat_map and union. Each handles a whole
// batch in one loop with the user's function inlined (a template parameter),
// so there is no per-record virtual call or allocation.
//
// Threading: on the task thread of the chain they belong to.
#pragma once

#include <utility>

#include "runtime/operator/operator.h"

namespace sluice {

template <class In, class Out, class Fn>
class MapOperator final : public OneInputOperator<In, Out> {
 public:
  explicit MapOperator(Fn fn) : fn_(std::move(fn)) {}
  void process_batch(Batch<In>& batch) override {
    for (Record<In>& r : batch) this->output_.emit(fn_(std::move(r.value)), r.timestamp);
    this->output_.flush();
  }

 private:
  Fn fn_;
};

template <class T, class Fn>
class FilterOperator final : public OneInputOperator<T, T> {
 public:
  explicit FilterOperator(Fn fn) : fn_(std::move(fn)) {}
  void process_batch(Batch<T>& batch) override {
    for (Record<T>& r : batch) {
      if (fn_(std::as_const(r.value))) this->output_.emit(std::move(r.value), r.timestamp);
    }
    this->output_.flush();
  }

 private:
  Fn fn_;
};

// fn(In&&, Emitter<Out>&) emits zero or more records per input.
template <class In, class Out, class Fn>
class FlatMapOperator final : public OneInputOperator<In, Out> {
 public:
  explicit FlatMapOperator(Fn fn) : fn_(std::move(fn)) {}
  void process_batch(Batch<In>& batch) override {
    for (Record<In>& r : batch) {
      Emitter<Out> emitter(this->output_, r.timestamp);
      fn_(std::move(r.value), emitter);
    }
    this->output_.flush();
  }

 private:
  Fn fn_;
};

// Merges several inputs of one type; the task's watermark valve already
// takes the minimum over them.
template <class T>
class UnionOperator final : public OneInputOperator<T, T> {
 public:
  void process_batch(Batch<T>& batch) override { this->output_.emit_batch(batch); }
};

}  // namespace sluice
