// Event-time sliding windows over a mergeable aggregate, computed by slices:
// each record folds into the accumulator of its slice (slide-sized, aligned
// like the windows), and a window's result merges the size/slide slices it
// covers when it fires. A record costs one state update instead of one per
// overlapping window. Results, late-data handling and allowed lateness are
// exactly those of WindowOperator with a SlidingWindows assigner.
//
// Timers: a fresh slice registers the firing timer of every window that
// covers it (timer namespace: the window) and its own cleanup timer, just
// after the last window covering it is cleaned up (namespace: the slice).
// A window's namespace and a slice's differ by length (size > slide).
//
// Requires size % slide == 0 and size > slide. Threading: on the task thread.
#pragma once

#include <optional>
#include <utility>

#include "operators/window_contents.h"
#include "operators/window_operator.h"

namespace sluice {

// FireFn: void(const K&, const TimeWindow&, const Agg's accumulator&, Emitter<Out>&)
template <class T, class Out, class K, class KeyFn, class Agg, class FireFn>
class SlicedWindowOperator final : public TimeWindowOperatorBase<T, Out, K, KeyFn> {
  using Base = TimeWindowOperatorBase<T, Out, K, KeyFn>;
  using Contents = AccumulatorContents<T, Agg>;
  using Acc = typename Contents::Acc;

 public:
  SlicedWindowOperator(KeyFn key_of, SlidingWindows windows, Agg agg, FireFn fire,
                       WindowOptions options, Downstream<T>* late_target)
      : Base(std::move(key_of), TimeDomain::kEventTime, options, late_target),
        windows_(windows),
        contents_(std::move(agg)),
        fire_(std::move(fire)) {}

  // Whether the slicing applies to these windows.
  static bool applies(const SlidingWindows& w) {
    return w.domain == TimeDomain::kEventTime && w.size > w.slide && w.size % w.slide == 0;
  }

  void process_batch(Batch<T>& batch) override {
    for (Record<T>& r : batch) {
      K key = this->key_of(r.value);
      this->set_key(key);
      if (!add(key, r.value, r.timestamp)) this->on_late(r);
    }
    this->flush_outputs();
  }

 private:
  void open_keyed() override {
    contents_.open(this->backend());
    contents_known_by_timers_ = this->contents_known_by_timers();
  }

  TimeWindow slice_of(Timestamp ts) const {
    Timestamp start = window_start(ts, windows_.offset, windows_.slide);
    return TimeWindow{start, start + windows_.slide};
  }
  // The window of the latest start that covers `slice`.
  TimeWindow last_window_of(const TimeWindow& slice) const {
    return TimeWindow{slice.start, slice.start + windows_.size};
  }
  bool is_slice(const TimeWindow& w) const { return w.end - w.start == windows_.slide; }
  // One past the cleanup time of the last window covering the slice: that
  // window fires at the same time when there is no allowed lateness, and
  // must still see the slice. (Late checks use the window's own time.)
  Timestamp slice_cleanup_time(const TimeWindow& last) const {
    Timestamp t = this->cleanup_time(last);
    return t == kMaxTimestamp ? t : t + 1;
  }

  // Whether the slice's cleanup timer is pending, that is, whether the
  // slice has contents; the namespace must be the slice's.
  bool has_slice_timer(const TimeWindow& slice) const {
    return this->has_event_timer(slice_cleanup_time(last_window_of(slice)));
  }

  bool add(const K& key, const T& value, Timestamp ts) {
    TimeWindow slice = slice_of(ts);
    TimeWindow last = last_window_of(slice);
    if (this->is_late(last)) return false;  // every window covering it is late
    this->enter(slice);
    bool fresh = contents_known_by_timers_ ? contents_.add(value, !has_slice_timer(slice))
                                           : contents_.add(value);
    // The slice's timer first: a window fired below must find it.
    if (fresh) this->register_event_timer(slice_cleanup_time(last));
    // Every window covering the slice, earliest start first.
    for (Timestamp start = slice.end - windows_.size; start <= slice.start;
         start += windows_.slide) {
      TimeWindow w{start, start + windows_.size};
      if (this->is_late(w)) continue;
      if (w.max_timestamp() <= this->current_watermark()) {
        fire(key, w);  // late within the allowed lateness: fire again now
      } else if (fresh) {
        this->enter(w);
        this->register_event_timer(w.max_timestamp());
      }
    }
    return true;
  }

  void on_event_timer(const Timer& timer) override {
    TimeWindow w = decode_window_namespace(timer.ns);
    if (is_slice(w)) {
      contents_.clear();  // the timer's scope is the slice
    } else {
      fire(this->decode_current_key(), w);
    }
  }

  // Merges the slices of window `w` and emits its result, if it has any.
  void fire(const K& key, const TimeWindow& w) {
    std::optional<Acc> merged;
    for (Timestamp start = w.start; start < w.end; start += windows_.slide) {
      TimeWindow slice_window{start, start + windows_.slide};
      this->enter(slice_window);
      if (contents_known_by_timers_ && !has_slice_timer(slice_window)) {
        continue;  // an empty slice: nothing to look up
      }
      const Acc* slice = contents_.get();
      if (slice == nullptr) continue;
      if (merged) {
        contents_.agg().merge(*merged, *slice);
      } else {
        merged = *slice;
      }
    }
    if (!merged) return;
    Emitter<Out> emitter(this->output_, w.max_timestamp());
    fire_(key, w, *merged, emitter);
  }

  SlidingWindows windows_;
  Contents contents_;
  FireFn fire_;
  bool contents_known_by_timers_ = false;
};

}  // namespace sluice
