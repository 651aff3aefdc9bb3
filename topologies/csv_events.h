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

// Parses one input line; blank lines yield nullopt. Throws InputError
// "PATH:LINE: ..." for anything else that is not three fields with integer
// event time and value.
std::optional<CsvEvent> parse_csv_event(std::string_view line, const LineLocation& where,
                                        bool keep_raw);

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
