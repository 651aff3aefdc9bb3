// Time values shared by every module: event-time and processing-time timestamps
// in milliseconds, and the parsing of human durations ("250ms", "5s", "2m").
// Pure values and functions; safe to use from any thread.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

// Milliseconds since the Unix epoch (event time or processing time).
using Timestamp = int64_t;
// A span of time in milliseconds.
using DurationMs = int64_t;

inline constexpr Timestamp kMinTimestamp = std::numeric_limits<int64_t>::min();
inline constexpr Timestamp kMaxTimestamp = std::numeric_limits<int64_t>::max();

// Which clock a window or timer follows.
enum class TimeDomain { kEventTime, kProcessingTime };

// Parses "250ms", "5s", "2m", "1h" or a bare number of milliseconds.
// Returns nullopt for anything else (negative values included).
std::optional<DurationMs> parse_duration(std::string_view text);

// Formats a duration the way parse_duration reads it ("1500ms", "5s", "2m").
std::string format_duration(DurationMs ms);

// Formats a timestamp for humans: "2026-01-01T00:00:05.000Z", or "-inf"/"+inf".
std::string format_timestamp(Timestamp ts);

}  // namespace sluice
