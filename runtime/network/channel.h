// Local channels: bounded queues of stream elements between two task threads
// (one producer subtask, one consumer subtask). Bounded capacity is the
// backpressure: a producer whose channel is full blocks until the consumer
// takes an element, so a slow sink slows the sources and memory stays
// bounded. One lock per element, and an element is a whole batch.
//
// Threading: push() on the producer's task thread, try_pop() on the
// consumer's. cancel() from any thread wakes blocked producers, which then
// throw CancelledError.
//
// Remote edges (runtime/network/remote_channels.h) keep a channel at each
// end. The data plane fills the receiving one with push_credited(), which
// never waits because the sender held a credit for the element, and learns
// of every pop through a PopListener so that it can return the credit.
// set_consumer() and set_pop_listener() are called before the channel's
// threads start and not changed afterwards.
#pragma once

#include <fmt/format.h>

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
  kIdle,     // the producer has no active input: do not wait for its watermark
  kActive,   // the producer is active again
  kBarrier,  // checkpoint barrier: everything before it belongs to the checkpoint
  kEnd,      // the producer will send nothing more (implies kEndOfData)
  kEndOfData // no more records or watermarks; barriers and kEnd still follow
             // (the producer waits for the job's final checkpoint)
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

// Told after each successful try_pop(), outside the channel's lock, on the
// consumer's thread. Must outlive the consumer's use of the channel.
class PopListener {
 public:
  virtual void on_pop() = 0;

 protected:
  ~PopListener() = default;
};

class ChannelBase {
 public:
  explicit ChannelBase(size_t capacity) : capacity_(capacity) {}
  virtual ~ChannelBase() = default;
  ChannelBase(const ChannelBase&) = delete;
  ChannelBase& operator=(const ChannelBase&) = delete;

  void set_consumer(TaskWakeup* consumer) { consumer_ = consumer; }
  // For remote edges only; local channels leave it null and pay one null
  // check per pop.
  void set_pop_listener(PopListener* listener) { pop_listener_ = listener; }
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
  PopListener* pop_listener_ = nullptr;
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

  // The receiving end of a remote edge: never waits. The sender spends one
  // credit per element and the receiver grants no more than the capacity,
  // so a full channel means the peer broke the protocol: throws InputError
  // (the data plane then drops the connection instead of growing memory).
  // After cancel() the element is dropped: nobody will read it.
  void push_credited(Element<T>&& element) {
    std::unique_lock lock(mutex_);
    if (cancelled_) return;
    if (queue_.size() >= capacity_) {
      throw InputError(
          fmt::format("remote channel overflow: the sender sent more than the {} credited elements",
                      capacity_));
    }
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
    if (pop_listener_ != nullptr) pop_listener_->on_pop();
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
