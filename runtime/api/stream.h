// Stream<T>: a typed handle on one output of an operator, and the place
// where the next operator is attached: map, filter, flat_map, async_map,
// union, connect (runtime/api/connected_streams.h), sink, key_by, and
// explicit partitioning (forward, rebalance, broadcast; hash comes with
// key_by). Handles are cheap values; every call adds to the
// topology's graph.
#pragma once

#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "operators/async_operator.h"
#include "operators/broadcast_process.h"
#include "operators/sink_operator.h"
#include "operators/stateless.h"
#include "runtime/api/topology.h"

namespace sluice {

template <class T, class K, class KeyFn>
class KeyedStream;
template <class A, class B>
class ConnectedStreams;
template <class R, class UK, class UV>
class BroadcastStream;
template <class T, class R, class UK, class UV>
class BroadcastConnectedStream;

// Returned by sink(): lets the caller set the sink's parallelism.
class SinkHandle {
 public:
  SinkHandle(Topology* topology, int node) : topology_(topology), node_(node) {}
  SinkHandle& parallelism(int p) {
    topology_->graph().node(node_).parallelism = p;
    return *this;
  }

 private:
  Topology* topology_;
  int node_;
};

template <class T>
class Stream {
 public:
  Stream(Topology* topology, int node, int port, Partitioning partitioning = Partitioning::kAuto)
      : topology_(topology), node_(node), port_(port), partitioning_(partitioning) {}

  Topology& topology() const { return *topology_; }
  int node() const { return node_; }
  int port() const { return port_; }
  Partitioning partitioning() const { return partitioning_; }

  // Sets the parallelism of the operator that produces this stream.
  Stream& parallelism(int p) {
    topology_->graph().node(node_).parallelism = p;
    return *this;
  }

  // The partitioning of the edge to the next operator.
  Stream forward() const { return with_partitioning(Partitioning::kForward); }
  Stream rebalance() const { return with_partitioning(Partitioning::kRebalance); }
  Stream broadcast() const { return with_partitioning(Partitioning::kBroadcast); }

  // fn(T&&) -> U
  template <class Fn>
  auto map(std::string name, Fn fn) const {
    using Out = std::decay_t<std::invoke_result_t<Fn&, T&&>>;
    return attach<Out>(std::move(name), [fn](const FactoryArgs& args) {
      return one_input_instance<T, Out>(std::make_unique<MapOperator<T, Out, Fn>>(fn), args);
    });
  }

  // fn(const T&) -> bool
  template <class Fn>
  Stream<T> filter(std::string name, Fn fn) const {
    return attach<T>(std::move(name), [fn](const FactoryArgs& args) {
      return one_input_instance<T, T>(std::make_unique<FilterOperator<T, Fn>>(fn), args);
    });
  }

  // fn(T&&, Emitter<Out>&) emits any number of records.
  template <class Out, class Fn>
  Stream<Out> flat_map(std::string name, Fn fn) const {
    return attach<Out>(std::move(name), [fn](const FactoryArgs& args) {
      return one_input_instance<T, Out>(std::make_unique<FlatMapOperator<T, Out, Fn>>(fn), args);
    });
  }

  // fn(const T&) -> Future<Out>, at most options.capacity requests in
  // flight; see operators/async_operator.h.
  template <class Fn>
  auto async_map(std::string name, Fn fn, AsyncOptions options = {}) const {
    using Out = typename std::decay_t<std::invoke_result_t<Fn&, const T&>>::value_type;
    return attach<Out>(std::move(name), [fn, options](const FactoryArgs& args) {
      return one_input_instance<T, Out>(std::make_unique<AsyncOperator<T, Out, Fn>>(fn, options),
                                        args);
    });
  }

  // This stream and `other` (of another type) into one operator: key both
  // (key_by) for a keyed co-process function.
  template <class B>
  ConnectedStreams<T, B> connect(const Stream<B>& other) const {
    return ConnectedStreams<T, B>(*this, other);
  }
  // This stream with broadcast state that `rules` writes.
  template <class R, class UK, class UV>
  BroadcastConnectedStream<T, R, UK, UV> connect(const BroadcastStream<R, UK, UV>& rules) const {
    return BroadcastConnectedStream<T, R, UK, UV>(*this, rules);
  }
  // Sends this stream to every subtask of the operator it connects to, as
  // the writer of broadcast state `descriptor`.
  template <class UK, class UV>
  BroadcastStream<T, UK, UV> broadcast(BroadcastStateDescriptor<UK, UV> descriptor) const {
    return BroadcastStream<T, UK, UV>(*this, std::move(descriptor));
  }

  // One stream of this and `others` (all of type T).
  Stream<T> union_with(std::string name, const std::vector<Stream<T>>& others) const {
    int inputs = static_cast<int>(others.size()) + 1;
    auto factory = [inputs](const FactoryArgs& args) {
      auto op = std::make_unique<UnionOperator<T>>();
      op->output().set_target(args.template output<T>(0));
      OperatorInstance instance;
      instance.inputs.assign(static_cast<size_t>(inputs), static_cast<Downstream<T>*>(op.get()));
      instance.op = std::move(op);
      return instance;
    };
    int id = topology_->template add_node<T>(std::move(name), inputs, std::move(factory));
    connect_to(id, 0);
    for (size_t i = 0; i < others.size(); ++i) others[i].connect_to(id, static_cast<int>(i) + 1);
    return Stream<T>(topology_, id, 0);
  }

  SinkHandle sink(std::string name, std::shared_ptr<const Sink<T>> sink) const {
    auto factory = [sink](const FactoryArgs& args) {
      auto op = std::make_unique<SinkOperator<T>>(sink->create_writer());
      OperatorInstance instance;
      instance.inputs.push_back(static_cast<Downstream<T>*>(op.get()));
      instance.op = std::move(op);
      return instance;
    };
    NodeSpec node;
    node.name = std::move(name);
    node.input_count = 1;
    node.factory = std::move(factory);
    int id = topology_->graph().add_node(std::move(node));
    connect_to(id, 0);
    return SinkHandle(topology_, id);
  }

  // Partitions by key: fn(const T&) -> K, K needing a codec.
  template <class KeyFn>
  auto key_by(KeyFn fn) const {
    using K = std::decay_t<std::invoke_result_t<KeyFn&, const T&>>;
    return KeyedStream<T, K, KeyFn>(*this, std::move(fn));
  }

  // The side output `tag` of the operator that produces this stream.
  template <class S>
  Stream<S> side_output(const OutputTag<S>& tag) const {
    const NodeSpec& node = topology_->graph().node(node_);
    for (size_t p = 1; p < node.ports.size(); ++p) {
      if (node.ports[p].tag != tag.name) continue;
      if (node.ports[p].type != TypedStreamOps<S>::instance()) {
        throw UsageError("side output '" + tag.name + "' of '" + node.name + "' has another type");
      }
      return Stream<S>(topology_, node_, static_cast<int>(p));
    }
    throw UsageError("operator '" + node.name + "' has no side output '" + tag.name + "'");
  }

  // Connects this stream to input `input` of node `to`.
  void connect_to(int to, int input, HashWriterFactory hash_writer = {}) const {
    EdgeSpec edge;
    edge.from = node_;
    edge.port = port_;
    edge.to = to;
    edge.input = input;
    edge.partitioning = hash_writer ? Partitioning::kHash : partitioning_;
    edge.hash_writer = std::move(hash_writer);
    topology_->graph().add_edge(std::move(edge));
  }

 private:
  Stream with_partitioning(Partitioning p) const { return Stream(topology_, node_, port_, p); }

  template <class Out>
  Stream<Out> attach(std::string name, OperatorFactory factory) const {
    int id = topology_->template add_node<Out>(std::move(name), 1, std::move(factory));
    connect_to(id, 0);
    return Stream<Out>(topology_, id, 0);
  }

  Topology* topology_;
  int node_;
  int port_;
  Partitioning partitioning_;
};

}  // namespace sluice

#include "runtime/api/keyed_stream.h"
