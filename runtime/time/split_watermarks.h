// Per-split watermark tracking inside a source subtask: bounded
// out-of-orderness per split, idleness after a processing-time timeout, and
// the combined watermark as the minimum over active splits.
//
// Threading: owned by one source task; not thread-safe.
#pragma once

#include <map>
#include <optional>

#include "runtime/core/time.h"

namespace sluice {

class SplitWatermarks {
 public:
  SplitWatermarks(DurationMs out_of_orderness, DurationMs idle_timeout)
      : out_of_orderness_(out_of_orderness), idle_timeout_(idle_timeout) {}

  void add_split(int split, Timestamp now);
  // Records up to event time `max_ts` arrived on `split` at processing time `now`.
  void on_records(int split, Timestamp max_ts, Timestamp now);
  void on_split_finished(int split);

  // The combined watermark at `now`: the minimum over splits that are neither
  // finished nor idle; kMaxTimestamp once every split finished; nullopt when
  // every unfinished split is idle, or there is no split at all (the source
  // is idle).
  std::optional<Timestamp> watermark(Timestamp now) const;
  bool all_finished() const;
  // When the next split would turn idle (kMaxTimestamp if never).
  Timestamp next_idle_deadline() const;

 private:
  struct Split {
    Timestamp max_ts = kMinTimestamp;
    Timestamp last_record_at = 0;
    bool finished = false;
  };
  bool is_idle(const Split& s, Timestamp now) const {
    return idle_timeout_ > 0 && now - s.last_record_at >= idle_timeout_;
  }

  DurationMs out_of_orderness_;
  DurationMs idle_timeout_;
  std::map<int, Split> splits_;
};

}  // namespace sluice
