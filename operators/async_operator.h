// Asynchronous lookups (Flink's AsyncWaitOperator): per record, a user
// function starts a request, fn(const In&) -> Future<Out>, and the operator
// emits its result when the future completes, without ever blocking its task:
//
//   stream.async_map("enrich", [pool](const Click& c) {
//     return pool->submit([c] { return Enriched{c, db_lookup(c.user)}; });
//   }, AsyncOptions{.capacity = 100, .timeout = 2000});
//
// - At most `capacity` records are in the operator at once. When it is
//   full, the operator holds its task's input back (has_input_room()) until a
//   result frees a place; the task meanwhile handles checkpoints and timers.
// - Ordered: results leave in input order. Unordered: as they complete, but
//   never across a watermark, so no result becomes late.
// - A request that fails (its future holds an error) or outlives `timeout`
//   is issued again, up to `max_attempts` in all; both are counted
//   (JobMetrics::async_failures, async_timeouts) and logged. A record whose
//   attempts all fail fails the operator, and the job restarts from its last
//   checkpoint: nothing is dropped silently. A completion that arrives after
//   its attempt timed out is ignored.
// - A checkpoint stores every record still in the operator (requested or
//   waiting for a place) with its timestamp. A restore issues them again, so
//   each result is emitted exactly once; after a rescale the records are
//   dealt out round robin over the new subtasks.
// - At the end of input the task waits (serving wakeups and timers) until
//   every request completed.
//
// Threading: every call on the task thread, except the futures' completion
// callbacks, which only note the completion in the inbox and request a
// wakeup of the task.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "runtime/core/codec.h"
#include "runtime/core/future.h"
#include "runtime/core/logging.h"
#include "runtime/core/versioned.h"
#include "runtime/operator/operator.h"

namespace sluice {

inline constexpr PersistedFormat kAsyncInFlightFormat{"asynchronous requests in flight", 1};

enum class AsyncOrder { kOrdered, kUnordered };

struct AsyncOptions {
  size_t capacity = 100;       // records in the operator at most
  DurationMs timeout = 10000;  // per attempt, in processing time
  int max_attempts = 3;        // attempts per record, timeouts and failures alike
  AsyncOrder order = AsyncOrder::kOrdered;
};

// Completions noted by the futures' threads, taken by the task thread.
class AsyncInbox {
 public:
  struct Completion {
    uint64_t sequence;
    uint32_t attempt;
  };

  void open(ProcessingTimeService* services, OperatorBase* op) {
    std::lock_guard lock(mutex_);
    services_ = services;
    op_ = op;
  }
  // After close() no completion reaches the task any more.
  void close() {
    std::lock_guard lock(mutex_);
    services_ = nullptr;
  }
  void complete(Completion completion) {
    std::lock_guard lock(mutex_);
    if (services_ == nullptr) return;
    completions_.push_back(completion);
    if (wakeup_requested_) return;
    wakeup_requested_ = true;
    services_->request_wakeup(op_);
  }
  std::vector<Completion> take() {
    std::lock_guard lock(mutex_);
    wakeup_requested_ = false;
    std::vector<Completion> out;
    out.swap(completions_);
    return out;
  }

 private:
  std::mutex mutex_;
  ProcessingTimeService* services_ = nullptr;
  OperatorBase* op_ = nullptr;
  bool wakeup_requested_ = false;
  std::vector<Completion> completions_;
};

template <class In, class Out, class Fn>
class AsyncOperator final : public OneInputOperator<In, Out> {
  static_assert(Encodable<In>, "async_map needs a codec for its input (checkpoints store it)");
  using Stored = std::vector<std::pair<In, Timestamp>>;

 public:
  AsyncOperator(Fn fn, AsyncOptions options)
      : fn_(std::move(fn)), options_(options), inbox_(std::make_shared<AsyncInbox>()) {
    if (options_.capacity == 0) throw UsageError("async_map: capacity must be at least 1");
    if (options_.timeout <= 0) throw UsageError("async_map: timeout must be positive");
    if (options_.max_attempts < 1) throw UsageError("async_map: max_attempts must be at least 1");
  }

  void open(OperatorContext& context) override {
    context_ = &context;
    inbox_->open(&context.processing_time, this);
    if (context.restore != nullptr) {
      for (auto& [value, ts] : restored_records(*context.restore)) accept(std::move(value), ts);
    }
  }
  void close() override { inbox_->close(); }

  void process_batch(Batch<In>& batch) override {
    for (Record<In>& r : batch) accept(std::move(r.value), r.timestamp);
  }
  void process_watermark(Timestamp watermark) override {
    if (!waiting_.empty()) {
      waiting_.emplace_back(watermark);  // behind the records that wait
    } else {
      queue_watermark(watermark);
    }
  }
  bool has_input_room() const override { return waiting_.empty() && records_ < options_.capacity; }
  bool has_pending_work() const override { return !entries_.empty() || !waiting_.empty(); }

  void on_wakeup() override {
    for (const AsyncInbox::Completion& c : inbox_->take()) on_completion(c);
    emit_ready();
    issue_waiting();
    this->output_.flush();
  }
  void on_processing_time(Timestamp now) override {
    scheduled_ = kMaxTimestamp;
    for (auto& [sequence, entry] : entries_) {
      if (entry.watermark || entry.result || entry.deadline > now) continue;
      context_->metrics.async_timeouts.add();
      retry_or_fail(sequence, entry, "timed out after " + std::to_string(options_.timeout) + " ms");
    }
    schedule_next_deadline();
  }

  OperatorSnapshot snapshot_state(int64_t) override {
    Stored stored;
    for (const auto& [sequence, entry] : entries_) {
      if (!entry.watermark) stored.emplace_back(*entry.input, entry.timestamp);
    }
    for (const auto& waiting : waiting_) {
      if (const auto* r = std::get_if<Record<In>>(&waiting))
        stored.emplace_back(r->value, r->timestamp);
    }
    OperatorSnapshot snapshot;
    if (!stored.empty()) snapshot.operator_state = encode_versioned(kAsyncInFlightFormat, stored);
    return snapshot;
  }

 private:
  struct Entry {
    std::optional<Timestamp> watermark;  // set for a watermark's place in the queue
    std::optional<In> input;
    Timestamp timestamp = 0;
    Future<Out> future;
    std::optional<Out> result;
    uint32_t attempt = 0;
    Timestamp deadline = kMaxTimestamp;
  };

  // The records of every old subtask, dealt round robin when the
  // parallelism changed; this subtask's own when it did not.
  Stored restored_records(const OperatorRestore& restore) const {
    const auto& old = restore.operator_states;
    int subtask = this->info_.subtask;
    int parallelism = this->info_.parallelism;
    Stored mine;
    size_t index = 0;
    for (size_t s = 0; s < old.size(); ++s) {
      if (old[s].empty()) continue;
      for (auto& record : decode_versioned<Stored>(kAsyncInFlightFormat, old[s])) {
        bool keep = old.size() == static_cast<size_t>(parallelism)
                        ? s == static_cast<size_t>(subtask)
                        : index % static_cast<size_t>(parallelism) == static_cast<size_t>(subtask);
        ++index;
        if (keep) mine.push_back(std::move(record));
      }
    }
    return mine;
  }

  void accept(In value, Timestamp ts) {
    if (!has_input_room()) {
      waiting_.push_back(Record<In>{std::move(value), ts});
      return;
    }
    issue(std::move(value), ts);
  }
  void issue_waiting() {
    while (!waiting_.empty()) {
      if (const auto* watermark = std::get_if<Timestamp>(&waiting_.front())) {
        queue_watermark(*watermark);
      } else if (records_ < options_.capacity) {
        Record<In>& r = std::get<Record<In>>(waiting_.front());
        issue(std::move(r.value), r.timestamp);
      } else {
        return;
      }
      waiting_.pop_front();
    }
  }
  // A watermark goes out once every record before it did.
  void queue_watermark(Timestamp watermark) {
    if (entries_.empty()) {
      this->output_.emit_watermark(watermark);
      return;
    }
    Entry entry;
    entry.watermark = watermark;
    entries_.emplace(next_sequence_++, std::move(entry));
  }
  void issue(In value, Timestamp ts) {
    uint64_t sequence = next_sequence_++;
    Entry& entry = entries_[sequence];
    entry.input = std::move(value);
    entry.timestamp = ts;
    ++records_;
    start_attempt(sequence, entry);
  }
  void start_attempt(uint64_t sequence, Entry& entry) {
    ++entry.attempt;
    entry.deadline = context_->processing_time.now() + options_.timeout;
    if (entry.deadline < scheduled_) {
      scheduled_ = entry.deadline;
      context_->processing_time.schedule(entry.deadline, this);
    }
    entry.future = fn_(std::as_const(*entry.input));
    std::weak_ptr<AsyncInbox> inbox = inbox_;
    AsyncInbox::Completion completion{sequence, entry.attempt};
    entry.future.on_ready([inbox, completion] {
      if (auto alive = inbox.lock()) alive->complete(completion);
    });
  }

  void on_completion(const AsyncInbox::Completion& c) {
    auto it = entries_.find(c.sequence);
    if (it == entries_.end() || it->second.attempt != c.attempt || it->second.result) return;
    Entry& entry = it->second;
    try {
      entry.result = entry.future.take();
      entry.deadline = kMaxTimestamp;
    } catch (const std::exception& e) {
      context_->metrics.async_failures.add();
      retry_or_fail(c.sequence, entry, std::string("failed: ") + e.what());
    }
  }

  void retry_or_fail(uint64_t sequence, Entry& entry, const std::string& what) {
    std::string attempt =
        "attempt " + std::to_string(entry.attempt) + " of " + std::to_string(options_.max_attempts);
    if (static_cast<int>(entry.attempt) >= options_.max_attempts) {
      // The task names the operator when it passes this on.
      throw ExternalError("asynchronous request " + what + " (" + attempt + ")");
    }
    log::operators()->warn("{}: operator '{}': asynchronous request {} ({}); issuing it again",
                           this->info_.task_name, this->info_.name, what, attempt);
    start_attempt(sequence, entry);
  }

  // Emits completed results: ordered, from the front while complete;
  // unordered, any complete one before the first pending watermark.
  void emit_ready() {
    auto it = entries_.begin();
    while (it != entries_.end()) {
      Entry& entry = it->second;
      if (entry.watermark) {
        if (it != entries_.begin()) break;
        this->output_.emit_watermark(*entry.watermark);
      } else if (entry.result) {
        this->output_.emit(std::move(*entry.result), entry.timestamp);
        --records_;
      } else if (options_.order == AsyncOrder::kOrdered) {
        break;
      } else {
        ++it;
        continue;
      }
      it = entries_.erase(it);
    }
  }

  void schedule_next_deadline() {
    Timestamp next = kMaxTimestamp;
    for (const auto& [sequence, entry] : entries_) {
      if (!entry.watermark && !entry.result) next = std::min(next, entry.deadline);
    }
    if (next != kMaxTimestamp && next < scheduled_) {
      scheduled_ = next;
      context_->processing_time.schedule(next, this);
    }
  }

  Fn fn_;
  AsyncOptions options_;
  OperatorContext* context_ = nullptr;
  std::shared_ptr<AsyncInbox> inbox_;
  std::map<uint64_t, Entry> entries_;  // by sequence: records and watermarks in input order
  // Accepted while full, issued as places free; watermarks keep their place.
  std::deque<std::variant<Record<In>, Timestamp>> waiting_;
  size_t records_ = 0;  // record entries in entries_
  uint64_t next_sequence_ = 0;
  Timestamp scheduled_ = kMaxTimestamp;
};

}  // namespace sluice
