// Local channels: bounded queues of stream elements between two task threads
// (one producer subtask, one consumer subtask). An element is a whole batch
// or a control element (watermark, barrier, status, end).
//
// Backpressure without blocking: a channel has room while it holds fewer
// than `capacity` elements. The producing task checks has_room() before it
// takes its next input (runtime/task/task.h) and otherwise waits on its
// wakeup, which the consumer signals once when a pop makes room again; so a
// backpressured task keeps processing mails, checkpoint triggers and
// cancellation. One input element may produce several batches: pushes above
// the capacity succeed up to an overdraft of as many again, and only a push
// beyond that waits (until the consumer pops or the channel is cancelled).
// Control elements never wait.
//
// Hand-offs are cheap: one lock per element; the consumer is woken only on
// the empty-to-non-empty transition, and TaskWakeup makes no system call
// while the consumer is busy. Batch buffers come back: the consumer's pop
// leaves its drained buffer in the channel and the producer's next push
// takes one, so no batch is allocated on one thread and freed on another.
//
// Threading: push() on the producer's task thread, try_pop() on the
// consumer's, has_room() on the producer's (lock-free). cancel() from any
// thread wakes a waiting producer, which then throws CancelledError.
//
// Remote edges (runtime/network/remote_channels.h) keep a channel at each
// end. The data plane fills the receiving one with push_credited(), which
// never waits because the sender held a credit for the element, and learns
// of every pop through a PopListener so that it can return the credit.
// set_consumer(), set_producer() and set_pop_listener() are called before
// the channel's threads start and not changed afterwards.
//
// Unaligned checkpoints: a barrier overtakes the queue. On a local channel
// push_priority() also queues a kBarrierMark where the barrier would have
// gone, and the consumer records what lies between the two. On a remote
// edge the two ends split that work, so that the barrier does not wait for
// credits: the sending end records what its barrier overtakes itself
// (push_priority_recording(), kept in the channel until the producer takes
// it) and queues no mark; the receiving end queues the mark when the
// barrier arrives (push_credited()), so its consumer records only what had
// arrived before it.
//
// Buffer debloating (runtime/network/buffer_debloat.h): with a debloat
// target, the consumer's side sets a budget in records from the rate it
// takes them at, and has_room() also needs fewer queued records than that.
// The receiving end of a remote edge then also holds back the credits of
// pops that leave it over budget, and returns them once it is under.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "runtime/core/errors.h"
#include "runtime/network/buffer_debloat.h"
#include "runtime/operator/checkpoint_kind.h"
#include "runtime/operator/record.h"

namespace sluice {

enum class ElementKind : uint8_t {
  kBatch,
  kWatermark,
  kIdle,        // the producer has no active input: do not wait for its watermark
  kActive,      // the producer is active again
  kBarrier,     // checkpoint barrier: everything before it belongs to the checkpoint
  kEnd,         // the producer will send nothing more (implies kEndOfData)
  kEndOfData,   // no more records or watermarks; barriers and kEnd still follow
                // (the producer waits for the job's final checkpoint)
  kBarrierMark  // unaligned checkpoints: where the barrier would have been;
                // the elements between the barrier and it are in flight
};

template <class T>
struct Element {
  ElementKind kind = ElementKind::kBatch;
  CheckpointKind checkpoint_kind = CheckpointKind::kCheckpoint;  // for kBarrier
  Batch<T> batch;
  Timestamp watermark = kMinTimestamp;
  int64_t checkpoint = 0;  // for kBarrier and kBarrierMark
};

// Wakes a task thread that waits for input, output room, mail or a timer.
// notify() makes no system call and takes no lock unless the thread waits.
class TaskWakeup {
 public:
  void notify() {
    signalled_.store(true);
    if (!waiting_.load()) return;  // it will see the signal before it sleeps
    std::lock_guard lock(mutex_);
    cv_.notify_one();
  }
  // A notify() that no wait_for() consumed yet.
  bool pending() const { return signalled_.load(); }
  // Waits until notified or for at most `max_wait`; clears the signal.
  void wait_for(std::chrono::milliseconds max_wait) {
    if (signalled_.exchange(false)) return;
    std::unique_lock lock(mutex_);
    waiting_.store(true);
    cv_.wait_for(lock, max_wait, [this] { return signalled_.load(); });
    waiting_.store(false);
    signalled_.store(false);
  }

 private:
  // Sequentially consistent: a notifier that finds waiting_ false stored
  // its signal before the waiter's check of signalled_ under the lock.
  std::atomic<bool> signalled_{false};
  std::atomic<bool> waiting_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
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
  // Signalled when a pop makes room in a full channel.
  void set_producer(TaskWakeup* producer) { producer_ = producer; }
  // For remote edges only; local channels leave it null and pay one null
  // check per pop.
  void set_pop_listener(PopListener* listener) { pop_listener_ = listener; }
  // Unaligned checkpoints on a remote edge: a barrier that arrives through
  // push_credited() goes to the front of the queue.
  void set_priority_barriers(bool priority) { priority_barriers_ = priority; }
  // The sending end of a remote edge in unaligned mode: the producer's
  // writer records what a priority barrier overtakes here.
  void set_records_overtaken(bool records) { records_overtaken_ = records; }
  bool records_overtaken() const { return records_overtaken_; }
  // What the last push_priority_recording() overtook (length-prefixed wire
  // elements); clears. Producer's thread.
  std::string take_overtaken() { return std::exchange(overtaken_, {}); }
  void cancel() {
    {
      std::lock_guard lock(mutex_);
      cancelled_ = true;
    }
    below_overdraft_.notify_all();
  }
  // Buffer debloating, before the channel's threads start.
  void set_debloat_target(DurationMs target) { debloat_.emplace(target); }
  // At most this many queued records leave room (0: no limit); set by the
  // consumer's side from its measured rate, or directly by tests.
  void set_record_budget(size_t budget) {
    size_t before = record_budget_.exchange(budget);
    if ((before == 0 || budget > before) && producer_ != nullptr) producer_->notify();
  }
  size_t record_budget() const { return record_budget_.load(std::memory_order_relaxed); }
  // The producer may push its next input's output: fewer than capacity()
  // elements are queued, and fewer records than the budget.
  bool has_room() const {
    if (size_.load(std::memory_order_acquire) >= capacity_) return false;
    size_t budget = record_budget_.load(std::memory_order_relaxed);
    return budget == 0 || queued_records_.load(std::memory_order_acquire) < budget;
  }
  // Elements queued now; for tests and metrics.
  size_t queued() const { return size_.load(std::memory_order_acquire); }
  size_t capacity() const { return capacity_; }

 protected:
  // A data push waits beyond this many queued elements.
  size_t overdraft_limit() const { return 2 * capacity_; }
  // After a pop of `records` records that left `size` elements and
  // `left_records` records, outside the lock. Barriers and marks took no
  // credit, so their pops return none.
  void after_pop(size_t size, bool uncredited, size_t records, size_t left_records) {
    size_t budget = record_budget_.load(std::memory_order_relaxed);
    if (debloat_) {
      if (auto measured = debloat_->on_pop(records, size == 0, DebloatMeter::Clock::now())) {
        set_record_budget(*measured);
        budget = *measured;
      }
    }
    bool over_budget = budget != 0 && left_records >= budget;
    bool under_again = budget != 0 && !over_budget && left_records + records >= budget;
    if ((size + 1 == capacity_ || under_again) && producer_ != nullptr) producer_->notify();
    if (size + 1 == overdraft_limit()) below_overdraft_.notify_one();
    if (pop_listener_ == nullptr || uncredited) return;
    if (over_budget) {
      ++withheld_credits_;
      return;
    }
    for (; withheld_credits_ > 0; --withheld_credits_) pop_listener_->on_pop();
    pop_listener_->on_pop();
  }

  void after_push(bool was_empty) {
    if (was_empty && consumer_ != nullptr) consumer_->notify();
  }

  std::mutex mutex_;
  std::condition_variable below_overdraft_;
  size_t capacity_;
  std::atomic<size_t> size_{0};            // written under mutex_
  std::atomic<size_t> queued_records_{0};  // in queued batches; written under mutex_
  std::atomic<size_t> record_budget_{0};
  std::optional<DebloatMeter> debloat_;  // the consumer's side
  size_t withheld_credits_ = 0;          // the consumer's side
  TaskWakeup* consumer_ = nullptr;
  TaskWakeup* producer_ = nullptr;
  PopListener* pop_listener_ = nullptr;
  bool priority_barriers_ = false;
  bool records_overtaken_ = false;
  bool cancelled_ = false;
  std::string overtaken_;  // producer's side: see take_overtaken()
};

template <class T>
class Channel final : public ChannelBase {
 public:
  using ChannelBase::ChannelBase;

  // Queues `element`. A batch waits while the overdraft is used up; control
  // elements never wait. With `spare`, a drained batch buffer the consumer
  // gave back (if any) is moved into it, for the producer's next batch.
  void push(Element<T>&& element, Batch<T>* spare = nullptr) {
    std::unique_lock lock(mutex_);
    if (element.kind == ElementKind::kBatch) {
      below_overdraft_.wait(lock,
                            [this] { return queue_.size() < overdraft_limit() || cancelled_; });
    }
    if (cancelled_) throw CancelledError();
    bool was_empty = queue_.empty();
    add_records(element);
    queue_.push_back(std::move(element));
    size_.store(queue_.size(), std::memory_order_release);
    if (spare != nullptr && !drained_.empty()) {
      *spare = std::move(drained_.back());
      drained_.pop_back();
    }
    lock.unlock();
    after_push(was_empty);
  }

  // Unaligned checkpoints: `barrier` goes to the front of the queue, ahead
  // of every element queued now, and a kBarrierMark of the same checkpoint
  // to the back, where the barrier would have gone. The consumer sees the
  // barrier at its next pop; what lies between the two is in flight.
  void push_priority(Element<T>&& barrier) {
    Element<T> mark;
    mark.kind = ElementKind::kBarrierMark;
    mark.checkpoint = barrier.checkpoint;
    std::unique_lock lock(mutex_);
    if (cancelled_) throw CancelledError();
    queue_.push_front(std::move(barrier));
    queue_.push_back(std::move(mark));
    size_.store(queue_.size(), std::memory_order_release);
    lock.unlock();
    after_push(true);  // a backpressured consumer still takes barriers
  }

  // The sending end of a remote edge, unaligned: as push_priority(), but
  // instead of a mark, calls `record(element, overtaken)` on every element
  // the barrier overtakes, front to back (under the lock; they stay
  // queued). Replaces what an earlier, untaken recording held.
  template <class Record>
  void push_priority_recording(Element<T>&& barrier, Record&& record) {
    std::unique_lock lock(mutex_);
    if (cancelled_) throw CancelledError();
    overtaken_.clear();
    for (const Element<T>& element : queue_) record(element, overtaken_);
    queue_.push_front(std::move(barrier));
    size_.store(queue_.size(), std::memory_order_release);
    lock.unlock();
    after_push(true);
  }

  // The receiving end of a remote edge: never waits. The sender spends one
  // credit per element but a barrier, and the receiver grants no more than
  // the capacity, so more elements than that (or more than
  // kMaxUncreditedBarriers barriers) mean the peer broke the protocol:
  // throws InputError (the data plane then drops the connection instead of
  // growing memory), as does a mark, which never travels. With priority
  // barriers a barrier goes to the front and its mark to the back. After
  // cancel() the element is dropped: nobody will read it.
  void push_credited(Element<T>&& element) {
    std::unique_lock lock(mutex_);
    if (cancelled_) return;
    if (element.kind == ElementKind::kBarrierMark) {
      throw InputError("remote channel: the sender sent a barrier mark, which never travels");
    }
    bool barrier = element.kind == ElementKind::kBarrier;
    if (barrier ? std::max(barriers_, marks_) >= kMaxUncreditedBarriers
                : queue_.size() - barriers_ - marks_ >= capacity_) {
      throw InputError(fmt::format(
          "remote channel overflow: the sender sent more than the {} credited elements or {} "
          "barriers",
          capacity_, kMaxUncreditedBarriers));
    }
    if (barrier) ++barriers_;
    bool wake = queue_.empty();
    // A savepoint's barrier stays in line: savepoints are always aligned.
    if (priority_barriers_ && barrier && !is_savepoint(element.checkpoint_kind)) {
      Element<T> mark;
      mark.kind = ElementKind::kBarrierMark;
      mark.checkpoint = element.checkpoint;
      queue_.push_front(std::move(element));
      queue_.push_back(std::move(mark));
      ++marks_;
      wake = true;  // a backpressured consumer still takes barriers
    } else {
      add_records(element);
      queue_.push_back(std::move(element));
    }
    size_.store(queue_.size(), std::memory_order_release);
    lock.unlock();
    after_push(wake);
  }

  struct Captured {
    size_t elements = 0;      // visited, from the front
    bool mark_found = false;  // the visit ended at the mark
  };
  // The consumer's view of its queue for an unaligned checkpoint: calls
  // `visit` on each queued element from the front, up to the kBarrierMark
  // of `checkpoint` or a newer one (not visited). Under the lock: the
  // producer waits meanwhile. The elements stay queued.
  template <class Visit>
  Captured visit_until_mark(int64_t checkpoint, Visit&& visit) {
    std::lock_guard lock(mutex_);
    Captured captured;
    for (const Element<T>& element : queue_) {
      if (element.kind == ElementKind::kBarrierMark && element.checkpoint >= checkpoint) {
        captured.mark_found = true;
        break;
      }
      visit(element);
      ++captured.elements;
    }
    return captured;
  }

  // The next pop would take a barrier.
  bool barrier_next() {
    std::lock_guard lock(mutex_);
    return !queue_.empty() && queue_.front().kind == ElementKind::kBarrier;
  }

  // Pops the next element only if it is a barrier (a backpressured task
  // still takes those).
  bool try_pop_barrier(Element<T>& out) {
    if (!barrier_next()) return false;
    return try_pop(out);  // only this thread pops: the front is still the barrier
  }

  // Moves the next element into `out`. The batch buffer `out` held (drained
  // by the caller) stays in the channel for the producer to reuse.
  bool try_pop(Element<T>& out) {
    std::unique_lock lock(mutex_);
    if (queue_.empty()) return false;
    if (out.batch.capacity() != 0 && drained_.size() < kMaxDrainedBuffers) {
      out.batch.clear();
      drained_.push_back(std::move(out.batch));
    }
    out = std::move(queue_.front());
    queue_.pop_front();
    bool barrier = out.kind == ElementKind::kBarrier;
    bool mark = out.kind == ElementKind::kBarrierMark;
    if (barrier && barriers_ > 0) --barriers_;
    if (mark && marks_ > 0) --marks_;
    size_t size = queue_.size();
    size_.store(size, std::memory_order_release);
    size_t records = records_in(out);
    size_t left_records = queued_records_.load(std::memory_order_relaxed) - records;
    queued_records_.store(left_records, std::memory_order_release);
    lock.unlock();
    after_pop(size, barrier || mark, records, left_records);
    return true;
  }

 private:
  static size_t records_in(const Element<T>& element) {
    return element.kind == ElementKind::kBatch ? element.batch.size() : 0;
  }
  // Under the lock, before `element` is queued.
  void add_records(const Element<T>& element) {
    size_t records = records_in(element);
    if (records != 0) {
      queued_records_.store(queued_records_.load(std::memory_order_relaxed) + records,
                            std::memory_order_release);
    }
  }

  // A producer and a consumer that take turns need one or two.
  static constexpr size_t kMaxDrainedBuffers = 4;
  // Barriers travel without credit; a peer may have this many queued.
  static constexpr size_t kMaxUncreditedBarriers = 64;

  std::deque<Element<T>> queue_;
  std::vector<Batch<T>> drained_;  // buffers handed back by the consumer
  size_t barriers_ = 0;            // barriers queued by push_credited(), which took no credit
  size_t marks_ = 0;               // marks push_credited() queued for them
};

}  // namespace sluice
