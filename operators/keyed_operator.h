// The base of every keyed operator, with one input (KeyedOperator) or two
// (KeyedOperatorBase over a TwoInputOperator): a keyed state backend scoped
// to the subtask's key groups, event-time and processing-time timers per key
// and namespace, and the current key.
//
// Per record a subclass calls set_key(key) before touching state. Timers
// fire with their key (and namespace) set again. Event-time timers fire when
// a watermark passes them; processing-time timers through the task's
// ProcessingTimeService. At the end of input every pending processing-time
// timer fires, so bounded jobs lose no output.
//
// Threading: on the task thread.
#pragma once

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "runtime/core/key_hasher.h"
#include "runtime/operator/operator.h"
#include "runtime/state_backend/keyed_state_backend.h"
#include "state/timer_queue.h"

namespace sluice {

// A keyed operator's checkpoint state besides its keyed state: its watermark,
// and for operators with more (broadcast state) the pair of the watermark
// and their own bytes.
inline constexpr PersistedFormat kWatermarkFormat{"keyed operator watermark", 1};
inline constexpr PersistedFormat kKeyedOperatorStateFormat{"keyed operator state", 1};

// A keyed operator's timers and clocks, as user functions see them through
// their contexts; calls act on the current key and namespace.
class KeyedTimerService {
 public:
  virtual void register_event_timer(Timestamp ts) = 0;
  virtual void delete_event_timer(Timestamp ts) = 0;
  virtual void register_processing_timer(Timestamp ts) = 0;
  virtual void delete_processing_timer(Timestamp ts) = 0;
  virtual Timestamp current_watermark() const = 0;
  virtual Timestamp processing_time() const = 0;

 protected:
  ~KeyedTimerService() = default;
};

// Operator is OneInputOperator<In, Out> or TwoInputOperator<In1, In2, Out>.
template <class K, class Operator>
class KeyedOperatorBase : public Operator, public KeyedTimerService {
 public:
  bool keeps_keyed_state() const override { return true; }

  void open(OperatorContext& context) override {
    context_ = &context;
    if (context.keyed_state == nullptr) {
      throw std::logic_error("keyed operator '" + this->info_.name +
                             "' opened without a keyed state backend");
    }
    // The runtime restored the backend already: a RocksDB instance is
    // reopened from its files only while the backend has no tables.
    backend_ = context.keyed_state;
    hasher_ = KeyHasher<K>(this->info_.key_hashing);
    if (context.restore != nullptr) restore_watermark(*context.restore);
    event_timers_ = &backend_->timer_queue(kEventTimers);
    processing_timers_ = &backend_->timer_queue(kProcessingTimers);
    open_keyed();
    schedule_next_processing_timer();
  }

  // The runtime adds the keyed state and timers. The watermark is the
  // operator's: sources replay exactly the records after the barrier, and
  // they must be judged late or not as they were.
  OperatorSnapshot snapshot_state(int64_t checkpoint_id) override {
    OperatorSnapshot snapshot;
    if (has_operator_state()) {
      snapshot.operator_state = encode_versioned(
          kKeyedOperatorStateFormat, std::pair<Timestamp, std::string>(watermark_, snapshot_own()));
    } else {
      snapshot.operator_state = encode_versioned(kWatermarkFormat, watermark_);
    }
    return snapshot;
  }

  void process_watermark(Timestamp watermark) override {
    watermark_ = watermark;
    Timer timer;
    while (event_timers_->pop_due(watermark, timer)) {
      enter_timer_scope(timer);
      on_event_timer(timer);
    }
    this->output_.emit_watermark(watermark);
  }

  void on_processing_time(Timestamp now) override {
    scheduled_processing_ = kMaxTimestamp;
    fire_processing_timers(now);
    this->output_.flush();
    schedule_next_processing_timer();
  }

  void finish() override {
    fire_processing_timers(kMaxTimestamp);
    this->output_.flush();
  }

 protected:
  // Called from open() once the backend exists: create state handles here.
  virtual void open_keyed() {}
  virtual void on_event_timer(const Timer& timer) {}
  virtual void on_processing_timer(const Timer& timer) {}
  // An operator with state of its own besides keyed state says so, writes
  // it at snapshots and gets every old subtask's bytes back (before
  // open_keyed), in old subtask order.
  virtual bool has_operator_state() const { return false; }
  virtual std::string snapshot_own() { return {}; }
  virtual void restore_own(const std::vector<std::string>& old_subtasks) {}

  // Makes `key` the current key; returns it for convenience.
  const K& set_key(const K& key) {
    uint64_t hash = hasher_.hash(key);
    backend_->set_current_key(
        key_group_for_hash(hasher_.group_hash(hash), this->info_.max_parallelism), hasher_.bytes(),
        hash);
    return key;
  }
  // Decodes the current key (used when a timer fires).
  K decode_current_key() const { return decode_from_string<K>(backend_->current_key().substr(2)); }

  void register_event_timer(Timestamp ts) final {
    event_timers_->add(ts, backend_->current_key(), backend_->current_namespace());
  }
  bool has_event_timer(Timestamp ts) const {
    return event_timers_->contains(ts, backend_->current_key(), backend_->current_namespace());
  }
  bool has_processing_timer(Timestamp ts) const {
    return processing_timers_->contains(ts, backend_->current_key(), backend_->current_namespace());
  }
  void delete_event_timer(Timestamp ts) final {
    event_timers_->remove(ts, backend_->current_key(), backend_->current_namespace());
  }
  void register_processing_timer(Timestamp ts) final {
    processing_timers_->add(ts, backend_->current_key(), backend_->current_namespace());
    if (ts < scheduled_processing_) {
      scheduled_processing_ = ts;
      context_->processing_time.schedule(ts, this);
    }
  }
  void delete_processing_timer(Timestamp ts) final {
    processing_timers_->remove(ts, backend_->current_key(), backend_->current_namespace());
  }

  Timestamp current_watermark() const final { return watermark_; }
  Timestamp processing_time() const final { return context_->processing_time.now(); }
  KeyedStateBackend& backend() { return *backend_; }
  OperatorContext& context() { return *context_; }

 private:
  static constexpr const char* kEventTimers = "__timers/event";
  static constexpr const char* kProcessingTimers = "__timers/processing";

  void restore_watermark(const OperatorRestore& restore) {
    // After a rescale, keys come from several old subtasks: the smallest
    // of their watermarks rejects nothing that any of them accepted.
    Timestamp watermark = kMaxTimestamp;
    std::vector<std::string> own;
    for (const std::string& bytes : restore.operator_states) {
      if (bytes.empty()) continue;
      if (has_operator_state()) {
        auto [w, mine] =
            decode_versioned<std::pair<Timestamp, std::string>>(kKeyedOperatorStateFormat, bytes);
        watermark = std::min(watermark, w);
        own.push_back(std::move(mine));
      } else {
        watermark = std::min(watermark, decode_versioned<Timestamp>(kWatermarkFormat, bytes));
      }
    }
    if (watermark != kMaxTimestamp) watermark_ = watermark;
    if (has_operator_state()) restore_own(own);
  }

  void enter_timer_scope(const Timer& timer) {
    KeyGroup group = read_key_group_prefix(timer.key);
    backend_->set_current_key(group, std::string_view(timer.key).substr(2));
    backend_->set_current_namespace(timer.ns);
  }
  void fire_processing_timers(Timestamp upto) {
    Timer timer;
    while (processing_timers_->pop_due(upto, timer)) {
      enter_timer_scope(timer);
      on_processing_timer(timer);
    }
  }
  void schedule_next_processing_timer() {
    Timestamp next = processing_timers_->next_timestamp();
    if (next != kMaxTimestamp && next < scheduled_processing_) {
      scheduled_processing_ = next;
      context_->processing_time.schedule(next, this);
    }
  }

  OperatorContext* context_ = nullptr;
  KeyedStateBackend* backend_ = nullptr;  // the runtime's
  KeyHasher<K> hasher_;
  // Owned by the backend, which snapshots them with its tables.
  TimerQueue* event_timers_ = nullptr;
  TimerQueue* processing_timers_ = nullptr;
  Timestamp watermark_ = kMinTimestamp;
  Timestamp scheduled_processing_ = kMaxTimestamp;
};

// A keyed operator with one input, whose records carry their key (KeyFn).
template <class In, class Out, class K, class KeyFn>
class KeyedOperator : public KeyedOperatorBase<K, OneInputOperator<In, Out>> {
 public:
  explicit KeyedOperator(KeyFn key_of) : key_of_(std::move(key_of)) {}

 protected:
  K key_of(const In& value) { return key_of_(value); }

 private:
  KeyFn key_of_;
};

}  // namespace sluice
