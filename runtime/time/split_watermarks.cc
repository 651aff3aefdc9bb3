#include "runtime/time/split_watermarks.h"

#include <algorithm>

namespace sluice {

void SplitWatermarks::add_split(int split, Timestamp now) {
  Split& s = splits_[split];
  s.last_record_at = now;
}

void SplitWatermarks::on_records(int split, Timestamp max_ts, Timestamp now) {
  Split& s = splits_[split];
  s.max_ts = std::max(s.max_ts, max_ts);
  s.last_record_at = now;
}

void SplitWatermarks::on_split_finished(int split) {
  splits_[split].finished = true;
}

std::optional<Timestamp> SplitWatermarks::watermark(Timestamp now) const {
  // No split yet (a Kafka subtask with no partition, which discovery may
  // assign later): idle, never +inf; a reader that ends says so itself.
  if (splits_.empty()) return std::nullopt;
  Timestamp wm = kMaxTimestamp;
  bool any_unfinished = false;
  bool any_active = false;
  for (const auto& [id, s] : splits_) {
    if (s.finished) continue;
    any_unfinished = true;
    if (is_idle(s, now)) continue;
    any_active = true;
    Timestamp split_wm =
        s.max_ts == kMinTimestamp ? kMinTimestamp : s.max_ts - out_of_orderness_ - 1;
    wm = std::min(wm, split_wm);
  }
  if (!any_unfinished) return kMaxTimestamp;
  if (!any_active) return std::nullopt;
  return wm;
}

bool SplitWatermarks::all_finished() const {
  return std::all_of(splits_.begin(), splits_.end(),
                     [](const auto& entry) { return entry.second.finished; });
}

Timestamp SplitWatermarks::next_idle_deadline() const {
  if (idle_timeout_ <= 0) return kMaxTimestamp;
  Timestamp deadline = kMaxTimestamp;
  for (const auto& [id, s] : splits_) {
    if (!s.finished) deadline = std::min(deadline, s.last_record_at + idle_timeout_);
  }
  return deadline;
}

}  // namespace sluice
