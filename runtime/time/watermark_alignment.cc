#include "runtime/time/watermark_alignment.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace sluice {

size_t WatermarkAlignmentGroup::add_member(std::function<void()> wake) {
  members_.emplace_back().wake = std::move(wake);
  return members_.size() - 1;
}

void WatermarkAlignmentGroup::report(size_t member, std::optional<Timestamp> watermark) {
  Timestamp value = watermark.value_or(kMaxTimestamp);
  Timestamp before = members_[member].watermark.exchange(value);
  if (value > before && paused_count_.load() > 0) wake_paused();
}

Timestamp WatermarkAlignmentGroup::max_allowed() const {
  Timestamp minimum = local_minimum().value_or(kMaxTimestamp);
  minimum = std::min(minimum, remote_minimum_.load());
  if (minimum >= kMaxTimestamp - max_drift_) return kMaxTimestamp;
  return minimum + max_drift_;
}

void WatermarkAlignmentGroup::pause(size_t member) {
  if (!members_[member].paused.exchange(true)) paused_count_.fetch_add(1);
}

void WatermarkAlignmentGroup::resume(size_t member) {
  if (members_[member].paused.exchange(false)) paused_count_.fetch_sub(1);
}

std::optional<Timestamp> WatermarkAlignmentGroup::local_minimum() const {
  Timestamp minimum = kMaxTimestamp;
  for (const Member& m : members_) minimum = std::min(minimum, m.watermark.load());
  if (minimum == kMaxTimestamp) return std::nullopt;
  return minimum;
}

void WatermarkAlignmentGroup::set_remote_minimum(std::optional<Timestamp> minimum) {
  Timestamp value = minimum.value_or(kMaxTimestamp);
  Timestamp before = remote_minimum_.exchange(value);
  if (value > before && paused_count_.load() > 0) wake_paused();
}

// Every paused member checks again; those still ahead pause again.
void WatermarkAlignmentGroup::wake_paused() {
  for (Member& m : members_) {
    if (m.paused.load()) m.wake();
  }
}

}  // namespace sluice
