// Arithmetic the connectors' readers share to plan micro-batch slices
// (SourceReader::plan_slices in runtime/operator/source.h): where a slice of at
// most N records ends, without overflowing 64 bits.
//
// Pure functions; any thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

namespace sluice {

inline constexpr int64_t kMaxSlicePosition = std::numeric_limits<int64_t>::max();

// The end of a slice from `start` that holds at most `max_records` records
// (0: no cap) of a split whose records lie `stride` apart, and stops at
// `available`. Expects start <= available and stride >= 1.
inline int64_t capped_slice_end(int64_t start, int64_t available, uint64_t max_records,
                                uint64_t stride = 1) {
  if (max_records == 0) return available;
  const uint64_t room = static_cast<uint64_t>(available) - static_cast<uint64_t>(start);
  if (max_records > room / stride) return available;
  return start + static_cast<int64_t>(max_records * stride);
}

// `value` as a slice position: at most kMaxSlicePosition.
inline int64_t to_slice_position(uint64_t value) {
  return static_cast<int64_t>(std::min<uint64_t>(value, kMaxSlicePosition));
}

// A slice end as an unsigned position: a negative end reads nothing.
inline uint64_t from_slice_position(int64_t value) {
  return value < 0 ? 0 : static_cast<uint64_t>(value);
}

}  // namespace sluice
