#include "runtime/metrics/metrics.h"

#include <algorithm>

namespace sluice {

JobMetrics::JobMetrics() {
  registry.add(this, "job_records_in", "records emitted by the job's sources", records_in);
  registry.add(this, "job_records_out", "records received by the job's sinks", records_out);
  registry.add(this, "job_late_dropped", "late records with no late-data output", late_dropped);
  registry.add(this, "job_skipped_records", "malformed or lost records skipped by policy",
               skipped_records);
  registry.add(this, "job_async_timeouts", "asynchronous requests that timed out", async_timeouts);
  registry.add(this, "job_async_failures", "asynchronous requests that failed", async_failures);
}

std::atomic<Timestamp>* JobMetrics::add_sink_watermark_slot() {
  std::lock_guard lock(mutex_);
  sink_watermarks_.push_back(std::make_unique<std::atomic<Timestamp>>(kMinTimestamp));
  return sink_watermarks_.back().get();
}

Timestamp JobMetrics::sink_watermark() const {
  std::lock_guard lock(mutex_);
  if (sink_watermarks_.empty()) return kMinTimestamp;
  Timestamp wm = kMaxTimestamp;
  for (const auto& slot : sink_watermarks_) wm = std::min(wm, slot->load());
  return wm;
}

void JobMetrics::add_note(std::string note) {
  std::lock_guard lock(mutex_);
  notes_.push_back(std::move(note));
}

std::vector<std::string> JobMetrics::notes() const {
  std::lock_guard lock(mutex_);
  return notes_;
}

}  // namespace sluice
