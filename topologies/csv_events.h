// The record formats of the windowed-count topology: input lines
// `event_time_ms,key,value` and output lines
// `window_start_ms,window_end_ms,key,count,sum`. Pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "connectors/file_source_support.h"
#include "runtime/core/codec.h"
#include "runtime/core/time.h"

namespace sluice::topologies {

struct CsvEvent {
  Timestamp event_time = 0;
  std::string key;
  int64_t value = 0;
  std::string raw;  // the input line, kept only when late lines are written out
  SLUICE_FIELDS(event_time, key, value, raw)
};

namespace csv_detail {
// True when all of `text` is a decimal integer.
bool parse_int(std::string_view text, int64_t& out);
// The line in quotes, shortened when long.
std::string quoted(std::string_view line);
}  // namespace csv_detail

// Parses one input line; blank lines yield nullopt. Throws where.error(...)
// (an InputError naming the place: "PATH:LINE: ..." for a file's
// LineLocation, the topic, partition and offset for a Kafka record) for
// anything else that is not three fields with integer event time and value.
template <class Where>
std::optional<CsvEvent> parse_csv_event(std::string_view line, const Where& where, bool keep_raw) {
  using csv_detail::parse_int;
  using csv_detail::quoted;
  if (line.find_first_not_of(" \t") == std::string_view::npos) return std::nullopt;
  size_t first = line.find(',');
  size_t second = first == std::string_view::npos ? first : line.find(',', first + 1);
  if (second == std::string_view::npos || line.find(',', second + 1) != std::string_view::npos) {
    throw where.error("expected event_time_ms,key,value but got " + quoted(line));
  }
  CsvEvent event;
  if (!parse_int(line.substr(0, first), event.event_time)) {
    throw where.error("event time is not an integer in " + quoted(line));
  }
  event.key.assign(line.substr(first + 1, second - first - 1));
  if (event.key.empty()) throw where.error("empty key in " + quoted(line));
  if (!parse_int(line.substr(second + 1), event.value)) {
    throw where.error("value is not an integer in " + quoted(line));
  }
  if (keep_raw) event.raw.assign(line);
  return event;
}

struct WindowCount {
  Timestamp start = 0;
  Timestamp end = 0;
  std::string key;
  int64_t count = 0;
  int64_t sum = 0;
  SLUICE_FIELDS(start, end, key, count, sum)
};

// Appends "start,end,key,count,sum".
void format_window_count(const WindowCount& w, std::string& out);

}  // namespace sluice::topologies
