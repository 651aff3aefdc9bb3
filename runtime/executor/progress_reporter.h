// Progress of a running job, sampled from its metrics: records per second
// in and out since the previous sample, totals, the sinks' watermark, and
// the event-time lag: how far the watermark trails processing time (wall
// clock), the latency of the job's event-time results. The lag means
// something when event times are wall-clock times of today (a live Kafka
// topic); for a file of old events it is their age.
//
// Threading: used by the one thread that watches the job.
#pragma once

#include <chrono>
#include <functional>
#include <optional>

#include "runtime/core/clock.h"
#include "runtime/core/time.h"
#include "runtime/metrics/metrics.h"

namespace sluice {

struct ProgressSample {
  double elapsed_seconds = 0;
  uint64_t records_in = 0;
  uint64_t records_out = 0;
  double in_per_second = 0;  // since the previous sample
  double out_per_second = 0;
  Timestamp watermark = kMinTimestamp;  // minimum over sinks
  // Processing time minus the watermark; none before the first watermark
  // and after the last (+inf).
  std::optional<DurationMs> event_time_lag;
  size_t checkpoints_completed = 0;
};

class ProgressReporter {
 public:
  using Clock = std::chrono::steady_clock;
  // `processing_time`: the clock event-time lag is measured against.
  ProgressReporter(std::function<void(const ProgressSample&)> on_progress, DurationMs interval,
                   Clock::time_point start,
                   const sluice::Clock& processing_time = SystemClock::instance())
      : on_progress_(std::move(on_progress)),
        interval_(interval),
        start_(start),
        last_time_(start),
        processing_time_(processing_time) {}

  // Reports at most once per interval, unless forced.
  void report(const JobMetrics& metrics, size_t checkpoints, bool force = false);

 private:
  std::function<void(const ProgressSample&)> on_progress_;
  DurationMs interval_;
  Clock::time_point start_;
  Clock::time_point last_time_;
  uint64_t last_in_ = 0;
  uint64_t last_out_ = 0;
  const sluice::Clock& processing_time_;
};

}  // namespace sluice
