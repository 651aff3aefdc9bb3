// The interval join of two keyed streams (Flink's IntervalJoinOperator): a
// left record at time t pairs with every right record of its key at a time
// in [t + lower, t + upper], in event time; each pair is emitted as
// join(left, right) at the later of the two timestamps.
//
// Each side's records wait in keyed state (map states by timestamp) until
// the operator's watermark, the smaller of both inputs' watermarks, passes
// the last time a record of the other side could still pair with them: a
// left record at t until t + upper, a right record at t until t - lower.
// A record at or behind the watermark (which promises that no record at or
// before it follows) pairs with nothing any more: it is dropped and counted
// in JobMetrics::late_dropped, as Flink drops it.
//
// Rescaling, snapshots and either state backend come with the keyed base.
// Threading: on the task thread.
#pragma once

#include <algorithm>
#include <utility>
#include <vector>

#include "operators/keyed_operator.h"

namespace sluice {

// a + b, held within the timestamp range instead of overflowing.
inline Timestamp saturating_add(Timestamp a, DurationMs b) {
  if (b > 0 && a > kMaxTimestamp - b) return kMaxTimestamp;
  if (b < 0 && a < kMinTimestamp - b) return kMinTimestamp;
  return a + b;
}

template <class L, class R, class Out, class K, class KeyFnL, class KeyFnR, class JoinFn>
class IntervalJoinOperator final : public KeyedOperatorBase<K, TwoInputOperator<L, R, Out>> {
 public:
  IntervalJoinOperator(KeyFnL key_left, KeyFnR key_right, DurationMs lower, DurationMs upper,
                       JoinFn join)
      : key_left_(std::move(key_left)),
        key_right_(std::move(key_right)),
        lower_(lower),
        upper_(upper),
        join_(std::move(join)) {}

  void process_batch1(Batch<L>& batch) override {
    for (Record<L>& r : batch) {
      if (late(r.timestamp)) continue;
      this->set_key(key_left_(std::as_const(r.value)));
      Timestamp t = r.timestamp;
      right_.for_each_in(saturating_add(t, lower_), saturating_add(t, upper_),
                         [&](Timestamp rt, const std::vector<R>& rights) {
                           for (const R& right : rights) emit(r.value, right, std::max(t, rt));
                         });
      keep(left_, std::move(r.value), t, saturating_add(t, upper_));
    }
    this->output_.flush();
  }

  void process_batch2(Batch<R>& batch) override {
    for (Record<R>& r : batch) {
      if (late(r.timestamp)) continue;
      this->set_key(key_right_(std::as_const(r.value)));
      Timestamp t = r.timestamp;
      left_.for_each_in(saturating_add(t, -upper_), saturating_add(t, -lower_),
                        [&](Timestamp lt, const std::vector<L>& lefts) {
                          for (const L& left : lefts) emit(left, r.value, std::max(t, lt));
                        });
      keep(right_, std::move(r.value), t, saturating_add(t, -lower_));
    }
    this->output_.flush();
  }

 private:
  void open_keyed() override {
    left_ = this->backend().template map_state<Timestamp, std::vector<L>>("left");
    right_ = this->backend().template map_state<Timestamp, std::vector<R>>("right");
  }

  // A record's cleanup time is its own: the timer at `ts` drops the left
  // records at ts - upper and the right ones at ts + lower.
  void on_event_timer(const Timer& timer) override {
    left_.remove(saturating_add(timer.timestamp, -upper_));
    right_.remove(saturating_add(timer.timestamp, lower_));
  }

  bool late(Timestamp ts) {
    if (ts > this->current_watermark()) return false;
    this->context().metrics.late_dropped.add();
    return true;
  }

  template <class V>
  void keep(MapState<Timestamp, std::vector<V>>& side, V value, Timestamp ts, Timestamp until) {
    std::vector<V> values = side.get(ts).value_or(std::vector<V>{});
    values.push_back(std::move(value));
    side.put(ts, std::move(values));
    this->register_event_timer(until);
  }

  void emit(const L& left, const R& right, Timestamp ts) {
    this->output_.emit(join_(left, right), ts);
  }

  KeyFnL key_left_;
  KeyFnR key_right_;
  DurationMs lower_;
  DurationMs upper_;
  JoinFn join_;
  MapState<Timestamp, std::vector<L>> left_;
  MapState<Timestamp, std::vector<R>> right_;
};

}  // namespace sluice
