// How records leave an operator. An operator appends to its Output<T>
// (inlined, no virtual call); the Output hands the whole batch to its
// Downstream<T> (one virtual call per batch): the next operator of the chain,
// a network writer, or a fan-out to several of them.
//
// Threading: all of this runs on one task thread.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "runtime/operator/record.h"

namespace sluice {

class DownstreamBase {
 public:
  virtual ~DownstreamBase() = default;
};

template <class T>
class Downstream : public DownstreamBase {
 public:
  // Receives a batch. The callee may move values out of it; the caller
  // clears it afterwards.
  virtual void push_batch(Batch<T>& batch) = 0;
  virtual void push_watermark(Timestamp watermark) = 0;
};

// Drops everything: the target of an output port nobody consumes.
template <class T>
class Discard final : public Downstream<T> {
 public:
  void push_batch(Batch<T>&) override {}
  void push_watermark(Timestamp) override {}
};

// Hands each batch to several downstreams; all but the last get a copy.
template <class T>
class FanOut final : public Downstream<T> {
 public:
  explicit FanOut(std::vector<Downstream<T>*> targets) : targets_(std::move(targets)) {}
  void push_batch(Batch<T>& batch) override {
    for (size_t i = 0; i + 1 < targets_.size(); ++i) {
      copy_ = batch;
      targets_[i]->push_batch(copy_);
    }
    targets_.back()->push_batch(batch);
  }
  void push_watermark(Timestamp watermark) override {
    for (Downstream<T>* t : targets_) t->push_watermark(watermark);
  }

 private:
  std::vector<Downstream<T>*> targets_;
  Batch<T> copy_;
};

template <class T>
class Output {
 public:
  Output() { buffer_.reserve(kMaxBatchRecords); }

  void set_target(Downstream<T>* target) { target_ = target; }
  bool connected() const { return target_ != nullptr; }

  void emit(T&& value, Timestamp ts) {
    buffer_.push_back(Record<T>{std::move(value), ts});
    if (buffer_.size() >= kMaxBatchRecords) flush();
  }
  void emit(const T& value, Timestamp ts) {
    buffer_.push_back(Record<T>{value, ts});
    if (buffer_.size() >= kMaxBatchRecords) flush();
  }
  // Hands a whole batch on (after whatever is buffered).
  void emit_batch(Batch<T>& batch) {
    flush();
    if (!batch.empty()) target_->push_batch(batch);
  }
  void flush() {
    if (buffer_.empty()) return;
    target_->push_batch(buffer_);
    buffer_.clear();
  }
  void emit_watermark(Timestamp watermark) {
    flush();
    target_->push_watermark(watermark);
  }

 private:
  Batch<T> buffer_;
  Downstream<T>* target_ = nullptr;
};

// What a user function emits into: a flat_map or process function calls
// emit(value); the record takes the given timestamp.
template <class T>
class Emitter {
 public:
  Emitter(Output<T>& output, Timestamp ts) : output_(output), ts_(ts) {}
  void emit(T value) { output_.emit(std::move(value), ts_); }
  void emit_at(T value, Timestamp ts) { output_.emit(std::move(value), ts); }
  void operator()(T value) { emit(std::move(value)); }
  Timestamp timestamp() const { return ts_; }

 private:
  Output<T>& output_;
  Timestamp ts_;
};

// Names a side output of type T, such as late data of a window.
template <class T>
struct OutputTag {
  std::string name;
};

}  // namespace sluice
