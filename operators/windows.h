// Time windows and the assigners that place a record's timestamp into them:
// tumbling, sliding (both aligned to the epoch plus an offset) and session
// windows (merging: sessions closer than the gap become one).
//
// A window [start, end) has end exclusive; it fires when the clock of its
// domain reaches max_timestamp() = end - 1. Pure values.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/core/codec.h"
#include "runtime/core/time.h"

namespace sluice {

struct TimeWindow {
  Timestamp start = 0;
  Timestamp end = 0;

  Timestamp max_timestamp() const { return end - 1; }
  // Whether two windows overlap or touch (sessions that touch merge).
  bool intersects(const TimeWindow& other) const {
    return start <= other.end && end >= other.start;
  }
  TimeWindow cover(const TimeWindow& other) const {
    return TimeWindow{std::min(start, other.start), std::max(end, other.end)};
  }
  friend bool operator==(const TimeWindow&, const TimeWindow&) = default;
  friend bool operator<(const TimeWindow& a, const TimeWindow& b) {
    return a.start != b.start ? a.start < b.start : a.end < b.end;
  }
  SLUICE_FIELDS(start, end)
};

// A window as a state namespace: its start (8 bytes) and its length as a
// varint, 9 to 11 bytes in all, so that namespaces stay within the
// small-string buffer and creating window state allocates less.
inline void encode_window_namespace(const TimeWindow& w, std::string& out) {
  out.clear();
  ByteWriter writer(out);
  Codec<Timestamp>::encode(w.start, writer);
  writer.write_varint(static_cast<uint64_t>(w.end - w.start));
}

inline TimeWindow decode_window_namespace(std::string_view ns) {
  ByteReader reader(ns);
  TimeWindow w;
  w.start = Codec<Timestamp>::decode(reader);
  w.end = w.start + static_cast<Timestamp>(reader.read_varint());
  return w;
}

// The start of the window of size `size` (aligned to `offset`) holding `ts`.
inline Timestamp window_start(Timestamp ts, DurationMs offset, DurationMs size) {
  Timestamp rem = (ts - offset) % size;
  if (rem < 0) rem += size;
  return ts - rem;
}

struct TumblingWindows {
  DurationMs size;
  DurationMs offset = 0;
  TimeDomain domain = TimeDomain::kEventTime;
  static constexpr bool kMerging = false;

  template <class Each>
  void assign(Timestamp ts, Each&& each) const {
    Timestamp start = window_start(ts, offset, size);
    each(TimeWindow{start, start + size});
  }
};

struct SlidingWindows {
  DurationMs size;
  DurationMs slide;
  DurationMs offset = 0;
  TimeDomain domain = TimeDomain::kEventTime;
  static constexpr bool kMerging = false;

  template <class Each>
  void assign(Timestamp ts, Each&& each) const {
    Timestamp last_start = window_start(ts, offset, slide);
    for (Timestamp start = last_start; start > ts - size; start -= slide) {
      each(TimeWindow{start, start + size});
    }
  }
};

struct SessionWindows {
  DurationMs gap;
  TimeDomain domain = TimeDomain::kEventTime;
  static constexpr bool kMerging = true;

  template <class Each>
  void assign(Timestamp ts, Each&& each) const {
    each(TimeWindow{ts, ts + gap});
  }
};

inline TumblingWindows tumbling(DurationMs size, TimeDomain domain = TimeDomain::kEventTime) {
  return TumblingWindows{size, 0, domain};
}
inline SlidingWindows sliding(DurationMs size, DurationMs slide,
                              TimeDomain domain = TimeDomain::kEventTime) {
  return SlidingWindows{size, slide, 0, domain};
}
inline SessionWindows session(DurationMs gap, TimeDomain domain = TimeDomain::kEventTime) {
  return SessionWindows{gap, domain};
}

}  // namespace sluice
