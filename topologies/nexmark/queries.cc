#include "topologies/nexmark/queries.h"

#include <map>

namespace sluice::nexmark {
namespace {

using Builder = void (*)(const Stream<Event>&, const OutputTarget&);

const std::map<std::string, Builder>& builders() {
  static const std::map<std::string, Builder> all = {
      {"q0", build_q0}, {"q1", build_q1}, {"q2", build_q2}, {"q3", build_q3},  {"q4", build_q4},
      {"q5", build_q5}, {"q7", build_q7}, {"q8", build_q8}, {"q11", build_q11}};
  return all;
}

}  // namespace

void build_query(const std::string& name, const Stream<Event>& events, const OutputTarget& out) {
  auto it = builders().find(name);
  if (it == builders().end()) {
    std::string known;
    for (const std::string& q : query_names()) known += (known.empty() ? "" : ", ") + q;
    throw UsageError("unknown query '" + name + "' (known: " + known + ")");
  }
  it->second(events, out);
}

std::vector<std::string> query_names() {
  // In the benchmark's order, q11 last.
  return {"q0", "q1", "q2", "q3", "q4", "q5", "q7", "q8", "q11"};
}

}  // namespace sluice::nexmark
