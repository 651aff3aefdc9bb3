#include "runtime/graph/job_graph.h"

namespace sluice {

const char* partitioning_name(Partitioning p) {
  switch (p) {
    case Partitioning::kAuto:
      return "auto";
    case Partitioning::kForward:
      return "forward";
    case Partitioning::kHash:
      return "hash";
    case Partitioning::kRebalance:
      return "rebalance";
    case Partitioning::kBroadcast:
      return "broadcast";
  }
  return "unknown";
}

int JobGraph::add_node(NodeSpec node) {
  for (const NodeSpec& existing : nodes_) {
    if (existing.name == node.name) {
      throw UsageError("topology: two operators are named '" + node.name +
                       "'; operator names must be unique");
    }
  }
  node.id = static_cast<int>(nodes_.size());
  nodes_.push_back(std::move(node));
  return nodes_.back().id;
}

void JobGraph::add_edge(EdgeSpec edge) {
  edges_.push_back(std::move(edge));
}

}  // namespace sluice
