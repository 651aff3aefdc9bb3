// Combines the watermarks of a task's input channels: the output watermark
// is the minimum over inputs that are neither idle nor ended, it never goes
// backwards, and it is +inf once every input ended.
//
// Threading: owned by one task; not thread-safe.
#pragma once

#include <optional>
#include <vector>

#include "runtime/core/time.h"

namespace sluice {

class WatermarkValve {
 public:
  explicit WatermarkValve(int inputs) : inputs_(static_cast<size_t>(inputs)) {}

  // Each returns the new output watermark when it advanced.
  std::optional<Timestamp> on_watermark(int input, Timestamp watermark);
  std::optional<Timestamp> on_idle(int input, bool idle);
  std::optional<Timestamp> on_end(int input);

  // True when every input that has not ended is idle (and one has not ended).
  bool all_idle() const;
  Timestamp current() const { return output_; }

 private:
  struct Input {
    Timestamp watermark = kMinTimestamp;
    bool idle = false;
    bool ended = false;
  };
  std::optional<Timestamp> recompute();

  std::vector<Input> inputs_;
  Timestamp output_ = kMinTimestamp;
};

}  // namespace sluice
