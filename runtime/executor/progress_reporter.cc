#include "runtime/executor/progress_reporter.h"

namespace sluice {

void ProgressReporter::report(const JobMetrics& metrics, size_t checkpoints, bool force) {
  if (!on_progress_) return;
  auto now = Clock::now();
  double dt = std::chrono::duration<double>(now - last_time_).count();
  if (!force && dt * 1000 < static_cast<double>(interval_)) return;
  ProgressSample sample;
  sample.checkpoints_completed = checkpoints;
  sample.elapsed_seconds = std::chrono::duration<double>(now - start_).count();
  sample.records_in = metrics.records_in.value();
  sample.records_out = metrics.records_out.value();
  // Counters start again from zero when a restarted job reports anew.
  if (sample.records_in < last_in_ || sample.records_out < last_out_) last_in_ = last_out_ = 0;
  if (dt > 0) {
    sample.in_per_second = static_cast<double>(sample.records_in - last_in_) / dt;
    sample.out_per_second = static_cast<double>(sample.records_out - last_out_) / dt;
  }
  sample.watermark = metrics.sink_watermark();
  if (sample.watermark != kMinTimestamp && sample.watermark != kMaxTimestamp) {
    sample.event_time_lag = processing_time_.now_ms() - sample.watermark;
  }
  last_in_ = sample.records_in;
  last_out_ = sample.records_out;
  last_time_ = now;
  on_progress_(sample);
}

}  // namespace sluice
