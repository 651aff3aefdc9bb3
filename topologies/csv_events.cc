#include "topologies/csv_events.h"

#include <charconv>

#include <fmt/format.h>

namespace sluice::topologies {
namespace {

bool parse_int(std::string_view text, int64_t& out) {
  if (text.empty()) return false;
  auto [rest, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && rest == text.data() + text.size();
}

std::string quoted(std::string_view line) {
  constexpr size_t kMaxShown = 80;
  if (line.size() <= kMaxShown) return fmt::format("'{}'", line);
  return fmt::format("'{}...'", line.substr(0, kMaxShown));
}

}  // namespace

std::optional<CsvEvent> parse_csv_event(std::string_view line, const LineLocation& where,
                                        bool keep_raw) {
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

void format_window_count(const WindowCount& w, std::string& out) {
  auto field = [&out](int64_t v) {
    fmt::format_int digits(v);
    out.append(digits.data(), digits.size());
    out.push_back(',');
  };
  field(w.start);
  field(w.end);
  out += w.key;
  out.push_back(',');
  field(w.count);
  fmt::format_int sum(w.sum);
  out.append(sum.data(), sum.size());
}

}  // namespace sluice::topologies
