#include "topologies/window_spec.h"

#include <vector>

#include "runtime/core/errors.h"

namespace sluice::topologies {
namespace {

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t end = text.find(sep, start);
    parts.push_back(text.substr(start, end - start));
    if (end == std::string::npos) return parts;
    start = end + 1;
  }
}

}  // namespace

WindowSpec parse_window_spec(const std::string& param, const std::string& text, TimeDomain domain) {
  std::vector<std::string> parts = split(text, ':');
  auto fail = [&](const std::string& why) {
    return UsageError("parameter '" + param + "': '" + text + "' " + why +
                      " (expected tumbling:SIZE, sliding:SIZE:SLIDE or session:GAP)");
  };
  std::vector<DurationMs> durations;
  for (size_t i = 1; i < parts.size(); ++i) {
    std::optional<DurationMs> d = parse_duration(parts[i]);
    if (!d || *d <= 0) throw fail("has a bad duration '" + parts[i] + "'");
    durations.push_back(*d);
  }
  const std::string& kind = parts[0];
  if (kind == "tumbling" && durations.size() == 1) return tumbling(durations[0], domain);
  if (kind == "session" && durations.size() == 1) return session(durations[0], domain);
  if (kind == "sliding" && durations.size() == 2) {
    if (durations[1] > durations[0]) throw fail("slides by more than its size");
    return sliding(durations[0], durations[1], domain);
  }
  throw fail("is not a window");
}

}  // namespace sluice::topologies
