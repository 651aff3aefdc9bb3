#include "topologies/csv_events.h"

#include <charconv>

#include <fmt/format.h>

namespace sluice::topologies {
namespace csv_detail {

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

}  // namespace csv_detail

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
