// The topology builder: a job's graph, built through typed streams.
//
//   Topology topology("wordcount");
//   auto lines = topology.source("lines", file_source, bounded_out_of_orderness(ts_of, 0));
//   lines.flat_map<std::string>("split", split_words)
//        .key_by([](const std::string& w) { return w; })
//        .aggregate("count", CountAggregate{})
//        .sink("out", file_sink);
//
// Every operator has a stable name, unique in the topology. Building happens
// on one thread before the job runs; the finished graph is read-only.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "runtime/graph/job_graph.h"
#include "runtime/graph/stream_type_ops.h"
#include "runtime/operator/sink.h"
#include "runtime/operator/source.h"
#include "runtime/task/source_operator.h"

namespace sluice {

template <class T>
class Stream;

class Topology {
 public:
  explicit Topology(std::string name = "job") : name_(std::move(name)) {}

  const std::string& name() const { return name_; }
  JobGraph& graph() { return graph_; }
  const JobGraph& graph() const { return graph_; }

  // A source of T; records are stamped and watermarked by `strategy`.
  template <class T, class TimestampFn = NoTimestamps>
  Stream<T> source(std::string name, std::shared_ptr<const Source<T>> source,
                   WatermarkStrategy<TimestampFn> strategy = {});

  // Adds a node whose main output carries Out; used by the stream classes.
  template <class Out>
  int add_node(std::string name, int input_count, OperatorFactory factory,
               std::vector<PortSpec> side_ports = {}) {
    NodeSpec node;
    node.name = std::move(name);
    node.input_count = input_count;
    node.ports.push_back(PortSpec{"", TypedStreamOps<Out>::instance()});
    for (PortSpec& p : side_ports) node.ports.push_back(std::move(p));
    node.factory = std::move(factory);
    return graph_.add_node(std::move(node));
  }

 private:
  std::string name_;
  JobGraph graph_;
};

// Wires a freshly made one-input operator into its factory result.
template <class In, class Out, class Op>
OperatorInstance one_input_instance(std::unique_ptr<Op> op, const FactoryArgs& args) {
  op->output().set_target(args.template output<Out>(0));
  OperatorInstance instance;
  instance.inputs.push_back(static_cast<Downstream<In>*>(op.get()));
  instance.op = std::move(op);
  return instance;
}

// The same for a two-input operator (inputs 0 and 1 of its node).
template <class A, class B, class Out, class Op>
OperatorInstance two_input_instance(std::unique_ptr<Op> op, const FactoryArgs& args) {
  op->output().set_target(args.template output<Out>(0));
  OperatorInstance instance;
  instance.inputs.push_back(op->first_input());
  instance.inputs.push_back(op->second_input());
  instance.op = std::move(op);
  return instance;
}

template <class T, class TimestampFn>
Stream<T> Topology::source(std::string name, std::shared_ptr<const Source<T>> source,
                           WatermarkStrategy<TimestampFn> strategy) {
  auto factory = [source, strategy](const FactoryArgs& args) {
    auto op = std::make_unique<SourceOperator<T, TimestampFn>>(
        source->create_reader(args.info.subtask, args.info.parallelism), strategy);
    op->output().set_target(args.template output<T>(0));
    OperatorInstance instance;
    instance.source = op.get();
    instance.op = std::move(op);
    return instance;
  };
  int id = add_node<T>(std::move(name), 0, std::move(factory));
  graph_.node(id).is_source = true;
  return Stream<T>(this, id, 0);
}

}  // namespace sluice

#include "runtime/api/stream.h"
