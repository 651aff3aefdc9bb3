// The keyed time-window operator (design section 5): assigns each record to
// windows of its key, keeps their contents in keyed state under the window as
// namespace, and fires a window when the clock of its domain passes its end.
//
// Event time: a window fires when the watermark passes max_timestamp(). With
// allowed lateness L its state stays until max_timestamp() + L, and a late
// record within L updates it and fires it again at once. A record whose
// windows are all past their lateness goes to the late-data side output, or
// is counted in JobMetrics::late_dropped when there is none.
// Processing time: windows follow the processing clock and fire on timers.
// Sessions (merging assigners) merge overlapping windows per key, moving
// contents and timers to the merged window.
//
// Threading: on the task thread.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "operators/keyed_operator.h"
#include "operators/windows.h"

namespace sluice {

struct WindowOptions {
  DurationMs allowed_lateness = 0;
};

// What every time-window operator shares: the domain, allowed lateness, the
// late-data output, and windows encoded as state namespaces.
template <class T, class Out, class K, class KeyFn>
class TimeWindowOperatorBase : public KeyedOperator<T, Out, K, KeyFn> {
  using Base = KeyedOperator<T, Out, K, KeyFn>;

 public:
  TimeWindowOperatorBase(KeyFn key_of, TimeDomain domain, WindowOptions options,
                         Downstream<T>* late_target)
      : Base(std::move(key_of)), domain_(domain), options_(options) {
    if (late_target != nullptr) late_.set_target(late_target);
  }

  void process_watermark(Timestamp watermark) override {
    if (late_.connected()) late_.emit_watermark(watermark);
    Base::process_watermark(watermark);
  }

  void finish() override {
    Base::finish();
    if (late_.connected()) late_.flush();
  }

 protected:
  bool event_time() const { return domain_ == TimeDomain::kEventTime; }

  // When the state of window `w` is dropped: its end plus the lateness.
  Timestamp cleanup_time(const TimeWindow& w) const {
    if (!event_time()) return w.max_timestamp();
    Timestamp t = w.max_timestamp() + options_.allowed_lateness;
    return t < w.max_timestamp() ? kMaxTimestamp : t;  // saturate on overflow
  }
  bool is_late(const TimeWindow& w) const {
    return event_time() && cleanup_time(w) <= this->current_watermark();
  }
  // A window (or slice) of a non-merging operator has contents exactly
  // while its cleanup timer is pending: registered with its first element,
  // and its firing clears them. With RocksDB state, asking the timers spares
  // a lookup of every new window; in memory the state lookup is the cheaper.
  bool contents_known_by_timers() { return this->backend().kind() == StateBackendKind::kRocksDb; }

  // Makes `w` the state namespace.
  void enter(const TimeWindow& w) {
    encode_window_namespace(w, ns_);
    this->backend().set_current_namespace(ns_);
  }

  void flush_outputs() {
    this->output_.flush();
    if (late_.connected()) late_.flush();
  }

  void on_late(Record<T>& r) {
    if (late_.connected()) {
      late_.emit(std::move(r.value), r.timestamp);
    } else {
      this->context().metrics.late_dropped.add();
    }
  }

  TimeDomain domain_;
  WindowOptions options_;

 private:
  Output<T> late_;
  std::string ns_;
};

// FireFn: void(const K&, const TimeWindow&, const Contents::Value&, Emitter<Out>&)
template <class T, class Out, class K, class KeyFn, class Assigner, class Contents, class FireFn>
class WindowOperator final : public TimeWindowOperatorBase<T, Out, K, KeyFn> {
  using Base = TimeWindowOperatorBase<T, Out, K, KeyFn>;

 public:
  WindowOperator(KeyFn key_of, Assigner assigner, Contents contents, FireFn fire,
                 WindowOptions options, Downstream<T>* late_target)
      : Base(std::move(key_of), assigner.domain, options, late_target),
        assigner_(std::move(assigner)),
        contents_(std::move(contents)),
        fire_(std::move(fire)) {}

  void process_batch(Batch<T>& batch) override {
    Timestamp now = this->event_time() ? 0 : this->processing_time();
    for (Record<T>& r : batch) {
      K key = this->key_of(r.value);
      this->set_key(key);
      Timestamp ts = this->event_time() ? r.timestamp : now;
      bool taken;
      if constexpr (Assigner::kMerging) {
        taken = add_to_session(key, r.value, ts);
      } else {
        taken = add_to_windows(key, r.value, ts);
      }
      if (!taken) this->on_late(r);
    }
    this->flush_outputs();
  }

 private:
  using Base::cleanup_time;
  using Base::enter;
  using Base::event_time;
  using Base::is_late;

  void open_keyed() override {
    contents_.open(this->backend());
    contents_known_by_timers_ = !Assigner::kMerging && this->contents_known_by_timers();
    if constexpr (Assigner::kMerging) {
      sessions_ = this->backend().template value_state<std::vector<TimeWindow>>("sessions");
    }
  }

  bool add_to_windows(const K& key, const T& value, Timestamp ts) {
    bool taken = false;
    assigner_.assign(ts, [&](const TimeWindow& w) {
      if (is_late(w)) return;
      taken = true;
      enter(w);
      bool fresh = contents_known_by_timers_ ? contents_.add(value, !has_cleanup_timer(w))
                                             : contents_.add(value);
      on_element(key, w, fresh);
    });
    return taken;
  }

  // Fires the window at once when the watermark has already passed its end
  // (a late record within the allowed lateness). Registers its timers when
  // its contents were just created: a window with contents has its timers.
  void on_element(const K& key, const TimeWindow& w, bool fresh) {
    if (!event_time()) {
      if (fresh) this->register_processing_timer(w.max_timestamp());
      return;
    }
    if (w.max_timestamp() <= this->current_watermark()) {
      fire(key, w);
    } else if (fresh) {
      this->register_event_timer(w.max_timestamp());
    }
    if (fresh && cleanup_time(w) != w.max_timestamp()) {
      this->register_event_timer(cleanup_time(w));
    }
  }

  bool has_cleanup_timer(const TimeWindow& w) const {
    return event_time() ? this->has_event_timer(cleanup_time(w))
                        : this->has_processing_timer(w.max_timestamp());
  }

  void delete_timers(const TimeWindow& w) {
    if (!event_time()) {
      this->delete_processing_timer(w.max_timestamp());
      return;
    }
    this->delete_event_timer(w.max_timestamp());
    this->delete_event_timer(cleanup_time(w));
  }

  bool add_to_session(const K& key, const T& value, Timestamp ts) {
    TimeWindow fresh;
    assigner_.assign(ts, [&](const TimeWindow& w) { fresh = w; });
    if (is_late(fresh)) return false;
    // Replace the sessions the new one touches by their cover, in place.
    this->backend().set_current_namespace({});
    TimeWindow merged = fresh;
    absorbed_.clear();
    sessions_.modify([] { return std::vector<TimeWindow>{}; },
                     [&](std::vector<TimeWindow>& sessions) {
                       auto kept = std::remove_if(sessions.begin(), sessions.end(),
                                                  [&](const TimeWindow& s) {
                                                    if (!s.intersects(fresh)) return false;
                                                    merged = merged.cover(s);
                                                    absorbed_.push_back(s);
                                                    return true;
                                                  });
                       sessions.erase(kept, sessions.end());
                       sessions.push_back(merged);
                     });
    for (const TimeWindow& s : absorbed_) {
      if (s == merged) continue;
      enter(s);
      delete_timers(s);
      std::optional<typename Contents::Value> moved = contents_.take();
      enter(merged);
      if (moved) contents_.merge_in(std::move(*moved));
    }
    enter(merged);
    contents_.add(value);
    // The merged window may be new even when its contents are not (they
    // moved in from absorbed windows), so its timers are always registered.
    on_element(key, merged, /*fresh=*/true);
    return true;
  }

  void on_event_timer(const Timer& timer) override {
    TimeWindow w = decode_window_namespace(timer.ns);
    if (timer.timestamp == w.max_timestamp()) fire(this->decode_current_key(), w);
    if (timer.timestamp == cleanup_time(w)) clear(w);
  }

  void on_processing_timer(const Timer& timer) override {
    TimeWindow w = decode_window_namespace(timer.ns);
    fire(this->decode_current_key(), w);
    clear(w);
  }

  void fire(const K& key, const TimeWindow& w) {
    const auto* contents = contents_.get();
    if (contents == nullptr) return;
    Emitter<Out> emitter(this->output_, w.max_timestamp());
    fire_(key, w, *contents, emitter);
  }

  // Drops the window's contents; the namespace is the window's.
  void clear(const TimeWindow& w) {
    contents_.clear();
    if constexpr (Assigner::kMerging) {
      this->backend().set_current_namespace({});
      std::vector<TimeWindow> sessions = sessions_.value().value_or(std::vector<TimeWindow>{});
      std::erase(sessions, w);
      if (sessions.empty()) {
        sessions_.clear();
      } else {
        sessions_.update(std::move(sessions));
      }
      enter(w);
    }
  }

  Assigner assigner_;
  Contents contents_;
  FireFn fire_;
  ValueState<std::vector<TimeWindow>> sessions_;
  std::vector<TimeWindow> absorbed_;  // scratch for add_to_session
  bool contents_known_by_timers_ = false;
};

// Count windows per key: fires every `slide` records with the last `size`
// records of the key (tumbling when slide == size). The output takes the
// timestamp of the record that completed the window.
// FireFn: void(const K&, const std::vector<T>&, Emitter<Out>&)
template <class T, class Out, class K, class KeyFn, class FireFn>
class CountWindowOperator final : public KeyedOperator<T, Out, K, KeyFn> {
  using Base = KeyedOperator<T, Out, K, KeyFn>;

 public:
  CountWindowOperator(KeyFn key_of, int64_t size, int64_t slide, FireFn fire)
      : Base(std::move(key_of)), size_(size), slide_(slide), fire_(std::move(fire)) {}

  void process_batch(Batch<T>& batch) override {
    for (Record<T>& r : batch) {
      K key = this->key_of(r.value);
      this->set_key(key);
      buffer_.modify([] { return Buffer{}; },
                     [&](Buffer& b) {
                       b.elements.push_back(std::move(r.value));
                       if (static_cast<int64_t>(b.elements.size()) > size_) {
                         b.elements.erase(b.elements.begin());
                       }
                       if (++b.since_fire < slide_) return;
                       Emitter<Out> emitter(this->output_, r.timestamp);
                       fire_(key, std::as_const(b.elements), emitter);
                       b.since_fire = 0;
                       if (slide_ == size_) b.elements.clear();
                     });
    }
    this->output_.flush();
  }

 private:
  struct Buffer {
    std::vector<T> elements;
    int64_t since_fire = 0;
    SLUICE_FIELDS(elements, since_fire)
  };
  void open_keyed() override {
    buffer_ = this->backend().template value_state<Buffer>("count-window");
  }

  int64_t size_;
  int64_t slide_;
  FireFn fire_;
  ValueState<Buffer> buffer_;
};

}  // namespace sluice
