// Parses window specifications of the example topologies:
// "tumbling:SIZE", "sliding:SIZE:SLIDE", "session:GAP" (durations like 5s).
#pragma once

#include <string>
#include <variant>

#include "operators/windows.h"

namespace sluice::topologies {

using WindowSpec = std::variant<TumblingWindows, SlidingWindows, SessionWindows>;

// Throws UsageError naming the parameter for a malformed specification.
WindowSpec parse_window_spec(const std::string& param, const std::string& text,
                             TimeDomain domain = TimeDomain::kEventTime);

}  // namespace sluice::topologies
