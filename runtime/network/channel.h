// Local channels: bounded queues of stream elements between two task threads
// (one producer subtask, one consumer subtask). Bounded capacity is the
// backpressure: a producer whose channel is full blocks until the consumer
// takes an element, so a slow sink slows the sources and memory stays
// bounded. One lock per element, and an element is a whole batch.
//
// Threading: push() on the producer's task thread, try_pop() on the
// consumer's. cancel() from any thread wakes blocked producers, which then
// throw CancelledError.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>

#include "runtime/api/record.h"
#include "runtime/core/errors.h"

namespace sluice {

enum class ElementKind : uint8_t {
  kBatch,
  kWatermark,
  kIdle,    // the producer has no active input: do not wait for its watermark
  kActive,   // the producer is active again
  kBarrier,  // checkpoint barrier: everything before it belongs to the checkpoint
  kEnd       // the producer will send nothing more
};

template <class T>
struct Element {
  ElementKind kind = ElementKind::kBatch;
  Batch<T> batch;
  Timestamp watermark = kMinTimestamp;
  int64_t checkpoint = 0;  // for kBarrier
};

// Wakes a task thread that waits for input, mail or a timer.
class TaskWakeup {
 public:
  void notify() {
    {
      std::lock_guard lock(mutex_);
      signalled_ = true;
    }
    cv_.notify_one();
  }
  // Waits until notified or for at most `max_wait`; clears the signal.
  void wait_for(std::chrono::milliseconds max_wait) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, max_wait, [this] { return signalled_; });
    signalled_ = false;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool signalled_ = false;
};

class ChannelBase {
 public:
  explicit ChannelBase(size_t capacity) : capacity_(capacity) {}
  virtual ~ChannelBase() = default;
  ChannelBase(const ChannelBase&) = delete;
  ChannelBase& operator=(const ChannelBase&) = delete;

  void set_consumer(TaskWakeup* consumer) { consumer_ = consumer; }
  void cancel() {
    {
      std::lock_guard lock(mutex_);
      cancelled_ = true;
    }
    not_full_.notify_all();
  }
  // Elements queued now; for tests and metrics.
  virtual size_t queued() = 0;
  size_t capacity() const { return capacity_; }

 protected:
  std::mutex mutex_;
  std::condition_variable not_full_;
  size_t capacity_;
  TaskWakeup* consumer_ = nullptr;
  bool cancelled_ = false;
};

template <class T>
class Channel final : public ChannelBase {
 public:
  using ChannelBase::ChannelBase;

  void push(Element<T>&& element) {
    std::unique_lock lock(mutex_);
    not_full_.wait(lock, [this] { return queue_.size() < capacity_ || cancelled_; });
    if (cancelled_) throw CancelledError();
    bool was_empty = queue_.empty();
    queue_.push_back(std::move(element));
    lock.unlock();
    if (was_empty && consumer_ != nullptr) consumer_->notify();
  }

  bool try_pop(Element<T>& out) {
    std::unique_lock lock(mutex_);
    if (queue_.empty()) return false;
    bool was_full = queue_.size() >= capacity_;
    out = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    if (was_full) not_full_.notify_one();
    return true;
  }

  size_t queued() override {
    std::lock_guard lock(mutex_);
    return queue_.size();
  }

 private:
  std::deque<Element<T>> queue_;
};

}  // namespace sluice
