#include "runtime/time/watermark_valve.h"

#include <algorithm>

namespace sluice {

std::optional<Timestamp> WatermarkValve::on_watermark(int input, Timestamp watermark) {
  Input& in = inputs_[static_cast<size_t>(input)];
  in.watermark = std::max(in.watermark, watermark);
  in.idle = false;
  return recompute();
}

std::optional<Timestamp> WatermarkValve::on_idle(int input, bool idle) {
  inputs_[static_cast<size_t>(input)].idle = idle;
  return recompute();
}

std::optional<Timestamp> WatermarkValve::on_end(int input) {
  Input& in = inputs_[static_cast<size_t>(input)];
  in.ended = true;
  in.watermark = kMaxTimestamp;
  return recompute();
}

bool WatermarkValve::all_idle() const {
  bool any_open = false;
  for (const Input& in : inputs_) {
    if (in.ended) continue;
    any_open = true;
    if (!in.idle) return false;
  }
  return any_open;
}

std::optional<Timestamp> WatermarkValve::recompute() {
  Timestamp wm = kMaxTimestamp;
  bool any_active = false;
  for (const Input& in : inputs_) {
    if (in.ended || in.idle) continue;
    any_active = true;
    wm = std::min(wm, in.watermark);
  }
  bool all_ended =
      std::all_of(inputs_.begin(), inputs_.end(), [](const Input& in) { return in.ended; });
  if (!any_active && !all_ended) return std::nullopt;
  if (wm <= output_) return std::nullopt;
  output_ = wm;
  return wm;
}

}  // namespace sluice
