// Buffer debloating (`--buffer-debloat-target D`, Flink's FLIP-183): a
// channel holds about D of data instead of a fixed number of batches, so
// that under backpressure an aligned barrier waits behind about D of
// records, and memory follows the throughput.
//
// The consumer's side of a channel measures how fast it takes records: the
// records popped over intervals of kInterval in which the queue never ran
// dry (so the consumer, not the producer, set the pace). The channel's
// record budget becomes that rate times D (at least kMinRecords), averaged
// with the previous budget. An interval in which the queue ran dry doubles
// the budget instead: the producer was the slower side. No budget (0)
// until the first full interval. The element capacity still applies.
//
// Threading: used only by the thread that pops the channel.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <optional>

#include "runtime/core/time.h"

namespace sluice {

class DebloatMeter {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kInterval{100};
  static constexpr size_t kMinRecords = 256;
  static constexpr size_t kMaxRecords = size_t{1} << 30;

  explicit DebloatMeter(DurationMs target) : target_(target) {}

  // After a pop of `records` records that left the queue empty or not, at
  // `now`; returns the new budget when an interval closed.
  std::optional<size_t> on_pop(size_t records, bool emptied, Clock::time_point now) {
    if (!started_) {
      started_ = true;
      interval_start_ = now;
    }
    popped_ += records;
    ran_dry_ |= emptied;
    auto elapsed = now - interval_start_;
    if (elapsed < kInterval) return std::nullopt;
    double seconds = std::chrono::duration<double>(elapsed).count();
    if (ran_dry_) {
      if (budget_ != 0) budget_ = std::min(budget_ * 2, kMaxRecords);
    } else {
      double rate = static_cast<double>(popped_) / seconds;
      auto wanted = std::max(kMinRecords, static_cast<size_t>(rate * target_ / 1000.0));
      budget_ = budget_ == 0 ? wanted : (budget_ + wanted) / 2;
    }
    interval_start_ = now;
    popped_ = 0;
    ran_dry_ = false;
    return budget_;
  }

 private:
  DurationMs target_;
  bool started_ = false;
  Clock::time_point interval_start_;
  size_t popped_ = 0;
  bool ran_dry_ = false;
  size_t budget_ = 0;
};

}  // namespace sluice
