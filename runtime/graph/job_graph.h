// The job graph: what a topology builds through the API. Nodes are operators
// (with a factory that makes one instance per subtask), edges connect an
// output port of one node to an input of another and declare partitioning.
// Types are erased here; the typed API fills in StreamTypeOps for every port
// so the runtime can make channels, readers and writers of the right type.
//
// Threading: built on one thread before the job starts; read-only after.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/network/reader.h"
#include "runtime/network/remote_channels.h"
#include "runtime/network/writers.h"
#include "runtime/operator/operator.h"

namespace sluice {

enum class Partitioning {
  kAuto,       // forward when parallelism matches, otherwise rebalance
  kForward,    // subtask i to subtask i; lets operators chain
  kHash,       // by key, through key groups
  kRebalance,  // round robin
  kBroadcast   // every record to every subtask
};

const char* partitioning_name(Partitioning p);

class SourceOperatorBase;

// What a node's factory returns for one subtask.
struct OperatorInstance {
  std::unique_ptr<OperatorBase> op;
  // Typed entry points (Downstream<In_i>*), one per logical input.
  std::vector<DownstreamBase*> inputs;
  SourceOperatorBase* source = nullptr;  // set for source nodes
};

struct FactoryArgs {
  OperatorInfo info;
  // Typed targets (Downstream<Out_p>*), one per output port.
  std::vector<DownstreamBase*> outputs;

  template <class T>
  Downstream<T>* output(size_t port) const {
    return static_cast<Downstream<T>*>(outputs.at(port));
  }
};

using OperatorFactory = std::function<OperatorInstance(const FactoryArgs&)>;

// Type-specific runtime pieces for records of one type.
class StreamTypeOps {
 public:
  virtual ~StreamTypeOps() = default;
  virtual std::unique_ptr<ChannelBase> make_channel(size_t capacity) const = 0;
  virtual std::unique_ptr<ChannelReaderBase> make_reader(ChannelBase* channel,
                                                         DownstreamBase* target) const = 0;
  virtual std::unique_ptr<DownstreamBase> make_fan_out(
      const std::vector<DownstreamBase*>& targets) const = 0;
  virtual std::unique_ptr<DownstreamBase> make_discard() const = 0;
  // Forward, rebalance and broadcast writers; hash writers come from the edge.
  virtual std::unique_ptr<NetworkWriterBase> make_writer(Partitioning partitioning,
                                                         const std::vector<ChannelBase*>& channels,
                                                         int producer_subtask) const = 0;
  // The wire side of a remote channel made by make_channel(): an encoder
  // that drains it (outbound) or a decoder that fills it (inbound). Throw
  // UsageError when the record type has no codec and so cannot cross
  // processes.
  virtual std::unique_ptr<ElementEncoder> make_encoder(ChannelBase* channel) const = 0;
  virtual std::unique_ptr<ElementDecoder> make_decoder(ChannelBase* channel) const = 0;
};

using HashWriterFactory = std::function<std::unique_ptr<NetworkWriterBase>(
    const std::vector<ChannelBase*>& channels, int max_parallelism, KeyHashing hashing)>;

struct PortSpec {
  std::string tag;  // "" for the main output, else the side output's name
  std::shared_ptr<const StreamTypeOps> type;
};

struct NodeSpec {
  int id = 0;
  std::string name;
  int parallelism = 0;  // 0: the job's default
  bool is_source = false;
  int input_count = 0;
  std::vector<PortSpec> ports;
  OperatorFactory factory;
};

struct EdgeSpec {
  int from = 0;
  int port = 0;
  int to = 0;
  int input = 0;  // which logical input of `to`
  Partitioning partitioning = Partitioning::kAuto;
  HashWriterFactory hash_writer;  // for kHash
};

class JobGraph {
 public:
  // Adds a node; throws UsageError when the name is taken.
  int add_node(NodeSpec node);
  void add_edge(EdgeSpec edge);

  NodeSpec& node(int id) { return nodes_.at(static_cast<size_t>(id)); }
  const NodeSpec& node(int id) const { return nodes_.at(static_cast<size_t>(id)); }
  const std::vector<NodeSpec>& nodes() const { return nodes_; }
  const std::vector<EdgeSpec>& edges() const { return edges_; }

 private:
  std::vector<NodeSpec> nodes_;
  std::vector<EdgeSpec> edges_;
};

}  // namespace sluice
