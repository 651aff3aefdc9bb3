// CollectSink: keeps every record it receives in memory, for tests. The test
// holds the same Collected<T> and waits on it, bounded, instead of sleeping.
//
// Threading: writers append from their task threads, one lock per batch; the
// test reads from its own thread through wait_for_size, snapshot and values.
// Lifecycle: create the Collected<T>, hand it to the CollectSink, run the
// job, read. Records arrive in batch order per writer; writers interleave.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "runtime/operator/sink.h"

namespace sluice {

template <class T>
class Collected {
 public:
  void append(const Batch<T>& batch) {
    {
      std::lock_guard lock(mutex_);
      records_.insert(records_.end(), batch.begin(), batch.end());
    }
    changed_.notify_all();
  }
  void mark_finished() {
    {
      std::lock_guard lock(mutex_);
      ++finished_writers_;
    }
    changed_.notify_all();
  }

  // Waits until at least `n` records arrived; false if `timeout` passed first.
  bool wait_for_size(size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return records_.size() >= n; });
  }
  // A copy of the records so far.
  std::vector<Record<T>> snapshot() const {
    std::lock_guard lock(mutex_);
    return records_;
  }
  // A copy of the values so far, without timestamps.
  std::vector<T> values() const {
    std::lock_guard lock(mutex_);
    std::vector<T> values;
    values.reserve(records_.size());
    for (const Record<T>& record : records_) values.push_back(record.value);
    return values;
  }
  size_t size() const {
    std::lock_guard lock(mutex_);
    return records_.size();
  }
  // How many writers reached finish() (end of input).
  int finished_writers() const {
    std::lock_guard lock(mutex_);
    return finished_writers_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Record<T>> records_;
  int finished_writers_ = 0;
};

template <class T>
class CollectSinkWriter final : public SinkWriter<T> {
 public:
  explicit CollectSinkWriter(std::shared_ptr<Collected<T>> collected)
      : collected_(std::move(collected)) {}
  void write(Batch<T>& batch) override { collected_->append(batch); }
  void finish() override { collected_->mark_finished(); }

 private:
  std::shared_ptr<Collected<T>> collected_;
};

template <class T>
class CollectSink final : public Sink<T> {
 public:
  explicit CollectSink(std::shared_ptr<Collected<T>> collected)
      : collected_(std::move(collected)) {}
  std::unique_ptr<SinkWriter<T>> create_writer() const override {
    return std::make_unique<CollectSinkWriter<T>>(collected_);
  }
  const std::shared_ptr<Collected<T>>& collected() const { return collected_; }

 private:
  std::shared_ptr<Collected<T>> collected_;
};

}  // namespace sluice
