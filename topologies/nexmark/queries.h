// The Nexmark queries q0, q1, q2, q3, q4, q5, q7, q8 and q11 over one stream
// of events, each writing its rows to an OutputTarget. Semantics and output
// lines follow the benchmark's definition (see the README). Builders run on
// the topology thread.
#pragma once

#include <string>
#include <vector>

#include "connectors/nexmark/events.h"
#include "topologies/nexmark/output_target.h"

namespace sluice::nexmark {

// Adds query `name` ("q0", "q1", ...) reading `events`; throws UsageError
// for an unknown name.
void build_query(const std::string& name, const Stream<Event>& events, const OutputTarget& out);
std::vector<std::string> query_names();

void build_q0(const Stream<Event>& events, const OutputTarget& out);
void build_q1(const Stream<Event>& events, const OutputTarget& out);
void build_q2(const Stream<Event>& events, const OutputTarget& out);
void build_q3(const Stream<Event>& events, const OutputTarget& out);
void build_q4(const Stream<Event>& events, const OutputTarget& out);
void build_q5(const Stream<Event>& events, const OutputTarget& out);
void build_q7(const Stream<Event>& events, const OutputTarget& out);
void build_q8(const Stream<Event>& events, const OutputTarget& out);
void build_q11(const Stream<Event>& events, const OutputTarget& out);

// Window sizes of the windowed queries.
inline constexpr DurationMs kTenSeconds = 10'000;
inline constexpr DurationMs kTwoSeconds = 2'000;

}  // namespace sluice::nexmark
