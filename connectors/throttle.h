// A token bucket that paces a source subtask on the processing time its
// reader is given (the `now` of SourceReader::read), so tests drive it with
// explicit times and never sleep.
//
// The bucket starts full and holds at most max(1, rate * 100 ms) tokens: a
// source that was held back may catch up by that burst, never by more.
//
// Threading: owned by one reader, on its task's thread.
// Lifecycle: construct -> (allowance, consume | next_allowed)*.
#pragma once

#include <cstddef>

#include "runtime/core/time.h"

namespace sluice {

class Throttle {
 public:
  static constexpr DurationMs kBurstMs = 100;

  // records_per_second <= 0: unthrottled.
  explicit Throttle(double records_per_second);

  bool throttled() const { return rate_per_ms_ > 0; }
  // How many records may go out at `now`, at most `wanted`.
  size_t allowance(size_t wanted, Timestamp now);
  // Records that `n` records went out.
  void consume(size_t n);
  // When the next record may go out; valid after allowance() returned 0.
  Timestamp next_allowed(Timestamp now) const;

 private:
  void refill(Timestamp now);

  double rate_per_ms_ = 0;
  double capacity_ = 0;
  double tokens_ = 0;
  Timestamp last_refill_ = kMinTimestamp;
};

}  // namespace sluice
