#include "runtime/api/metrics.h"

#include <algorithm>

namespace sluice {

size_t JobMetrics::add_sink_watermark_slot() {
  std::lock_guard lock(mutex_);
  sink_watermarks_.push_back(std::make_unique<std::atomic<Timestamp>>(kMinTimestamp));
  return sink_watermarks_.size() - 1;
}

void JobMetrics::set_sink_watermark(size_t slot, Timestamp wm) {
  std::lock_guard lock(mutex_);
  sink_watermarks_[slot]->store(wm, std::memory_order_relaxed);
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
