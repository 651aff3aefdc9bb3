#include "runtime/graph/execution_plan.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

namespace sluice {
namespace {

struct ResolvedEdge {
  const EdgeSpec* spec;
  Partitioning partitioning;
  bool chained;
  // channels[producer][consumer]; null where the pair is not connected.
  std::vector<std::vector<ChannelBase*>> channels;
};

class PlanBuilder {
 public:
  PlanBuilder(const JobGraph& graph, const PlanOptions& options, JobControl& control,
              JobMetrics& metrics, const Clock& clock)
      : graph_(graph), options_(options), control_(control), metrics_(metrics), clock_(clock) {}

  ExecutionPlan build() {
    validate_options();
    resolve_parallelism();
    resolve_edges();
    assign_chains();
    validate_placement();
    create_channels();
    for (const auto& [head, members] : chains_) {
      plan_.chains.push_back(chain_name(members));
      add_vertex(head, members);
      for (int s = 0; s < p(head); ++s) {
        const NodeSpec& head_node = graph_.node(head);
        plan_.all_tasks.push_back(PlannedTask{plan_.chains.back(), plan_.vertices.size() - 1, s,
                                              head_node.is_source,
                                              head_node.is_source ? head_node.name : ""});
        if (!placement().runs_here(s)) continue;
        build_task(members, s);
        plan_.task_index.push_back(plan_.all_tasks.size() - 1);
      }
    }
    add_vertex_edges();
    if (!remote_links_.empty()) hand_over_remote_channels();
    return std::move(plan_);
  }

 private:
  void validate_options() const {
    if (options_.parallelism < 1) throw UsageError("--parallelism must be at least 1");
    if (options_.max_parallelism < 1 || options_.max_parallelism > kMaxMaxParallelism) {
      throw UsageError(fmt::format("--max-parallelism must be in [1, {}]", kMaxMaxParallelism));
    }
    bool has_source = false;
    for (const NodeSpec& n : graph_.nodes()) has_source |= n.is_source;
    if (!has_source) throw UsageError("topology has no source");
  }

  void resolve_parallelism() {
    for (const NodeSpec& n : graph_.nodes()) {
      int p = n.parallelism > 0 ? n.parallelism : options_.parallelism;
      if (p > options_.max_parallelism) {
        throw UsageError(fmt::format("operator '{}': parallelism {} exceeds max parallelism {}",
                                     n.name, p, options_.max_parallelism));
      }
      parallelism_.push_back(p);
    }
  }

  int p(int node) const { return parallelism_[static_cast<size_t>(node)]; }
  const Placement& placement() const { return options_.placement; }

  void validate_placement() {
    plan_.slots = *std::max_element(parallelism_.begin(), parallelism_.end());
    const Placement& where = placement();
    if (where.slot_owner.empty() || where.nowhere) return;
    if (where.slot_owner.size() < static_cast<size_t>(plan_.slots)) {
      throw UsageError(fmt::format("the job needs {} slots, {} are placed", plan_.slots,
                                   where.slot_owner.size()));
    }
    for (const std::string& owner : where.slot_owner) {
      if (owner != where.self && where.remote == nullptr) {
        throw UsageError("a placement across task managers needs a data plane");
      }
    }
  }

  void resolve_edges() {
    std::vector<int> inputs(graph_.nodes().size(), 0);
    for (const EdgeSpec& e : graph_.edges()) ++inputs[static_cast<size_t>(e.to)];
    for (const EdgeSpec& e : graph_.edges()) {
      Partitioning part = e.partitioning;
      if (part == Partitioning::kAuto) {
        part = p(e.from) == p(e.to) ? Partitioning::kForward : Partitioning::kRebalance;
      }
      if (part == Partitioning::kForward && p(e.from) != p(e.to)) {
        throw UsageError(fmt::format(
            "forward edge from '{}' (parallelism {}) to '{}' (parallelism {}) needs equal "
            "parallelism; use rebalance() or hash partitioning",
            graph_.node(e.from).name, p(e.from), graph_.node(e.to).name, p(e.to)));
      }
      bool chained = part == Partitioning::kForward && inputs[static_cast<size_t>(e.to)] == 1;
      edges_.push_back(ResolvedEdge{&e, part, chained, {}});
    }
  }

  // Every node belongs to the chain of its head: the node reached by
  // following chained input edges upwards. Node ids are topological.
  void assign_chains() {
    head_of_.assign(graph_.nodes().size(), -1);
    for (const NodeSpec& n : graph_.nodes()) head_of_[static_cast<size_t>(n.id)] = n.id;
    for (const ResolvedEdge& e : edges_) {
      if (e.chained)
        head_of_[static_cast<size_t>(e.spec->to)] = head_of_[static_cast<size_t>(e.spec->from)];
    }
    for (const NodeSpec& n : graph_.nodes())
      chains_[head_of_[static_cast<size_t>(n.id)]].push_back(n.id);
  }

  void add_vertex(int head, const std::vector<int>& members) {
    PlannedVertex vertex{plan_.chains.back(), {}, p(head), graph_.node(head).is_source};
    for (int id : members) vertex.operators.push_back(graph_.node(id).name);
    plan_.vertices.push_back(std::move(vertex));
  }

  // Vertices are numbered in the order of chains_ (by head node).
  void add_vertex_edges() {
    std::map<int, size_t> vertex_of_head;
    for (const auto& [head, members] : chains_) vertex_of_head.emplace(head, vertex_of_head.size());
    auto vertex_of = [&](int node) {
      return vertex_of_head.at(head_of_[static_cast<size_t>(node)]);
    };
    for (const ResolvedEdge& e : edges_) {
      if (e.chained) continue;
      plan_.edges.push_back(
          PlannedEdge{vertex_of(e.spec->from), vertex_of(e.spec->to), e.partitioning});
    }
  }

  std::string chain_name(const std::vector<int>& members) const {
    std::string name;
    for (int id : members) {
      if (!name.empty()) name += " -> ";
      name += graph_.node(id).name;
    }
    return name;
  }

  void create_channels() {
    for (ResolvedEdge& e : edges_) {
      if (e.chained) continue;
      int producers = p(e.spec->from);
      int consumers = p(e.spec->to);
      const StreamTypeOps& type =
          *graph_.node(e.spec->from).ports.at(static_cast<size_t>(e.spec->port)).type;
      e.channels.assign(static_cast<size_t>(producers),
                        std::vector<ChannelBase*>(static_cast<size_t>(consumers), nullptr));
      for (int ps = 0; ps < producers; ++ps) {
        for (int cs = 0; cs < consumers; ++cs) {
          if (e.partitioning == Partitioning::kForward && ps != cs) continue;
          bool producer_here = placement().runs_here(ps);
          bool consumer_here = placement().runs_here(cs);
          if (!producer_here && !consumer_here) continue;
          auto channel = type.make_channel(options_.channel_capacity);
          if (options_.buffer_debloat_target > 0) {
            channel->set_debloat_target(options_.buffer_debloat_target);
          }
          if (producer_here != consumer_here)
            connect_remote(e, type, ps, cs, *channel, producer_here);
          control_.add_channel(channel.get());
          e.channels[static_cast<size_t>(ps)][static_cast<size_t>(cs)] = channel.get();
          plan_.channels.push_back(std::move(channel));
        }
      }
    }
  }

  // A channel with one end in another task manager: the data plane drains
  // it (outbound) or fills it (inbound).
  void connect_remote(const ResolvedEdge& e, const StreamTypeOps& type, int producer, int consumer,
                      ChannelBase& channel, bool outbound) {
    const Placement& where = placement();
    ChannelKey key{where.job_number, where.attempt, edge_index(e), static_cast<uint32_t>(producer),
                   static_cast<uint32_t>(consumer)};
    const std::string& peer =
        where.slot_owner.at(static_cast<size_t>(outbound ? consumer : producer));
    // Handed over once the plan is complete: the data plane's threads may
    // use a channel as soon as it has it.
    RemoteLink link{peer, key, &channel, nullptr, nullptr};
    if (outbound) {
      link.encoder = type.make_encoder(&channel);
      channel.set_records_overtaken(options_.unaligned_checkpoints);
    } else {
      link.decoder = type.make_decoder(&channel);
    }
    remote_links_.push_back(std::move(link));
  }

  void hand_over_remote_channels() {
    RemoteChannelRegistry& remote = *placement().remote;
    try {
      for (RemoteLink& link : remote_links_) {
        if (link.encoder) {
          remote.add_outbound(link.peer, link.key, link.channel, std::move(link.encoder));
        } else {
          remote.add_inbound(link.peer, link.key, link.channel, std::move(link.decoder));
        }
      }
    } catch (...) {
      // The plan and its channels go away with the exception.
      remote.remove_attempt(placement().job_number, placement().attempt);
      throw;
    }
  }

  void build_task(const std::vector<int>& members, int subtask) {
    int head = members.front();
    std::string task_name =
        fmt::format("{}/{}/{}", options_.job_name, graph_.node(head).name, subtask);
    auto task =
        std::make_unique<Task>(task_name, control_, metrics_, clock_, options_.state_backend);
    control_.add_wakeup(&task->wakeup());
    std::map<int, OperatorInstance> instances;
    // Tail first, so that each operator's chained consumers exist already.
    for (auto it = members.rbegin(); it != members.rend(); ++it) {
      instances[*it] = build_operator(*it, subtask, task_name, instances, *task);
    }
    for (int id : members) {
      OperatorInstance& instance = instances[id];
      if (instance.source != nullptr) {
        task->set_source(instance.source, options_.micro_batch ? SourceReading::kBatches
                                                               : SourceReading::kContinuous);
        join_alignment(*instance.source, *task);
      }
      task->add_operator(std::move(instance.op), restore_of(graph_.node(id).name));
    }
    connect_inputs(head, subtask, instances[head], *task);
    task->set_unaligned(options_.unaligned_checkpoints);
    if (options_.unaligned_checkpoints) task->require_input_codecs();
    if (const std::string* bytes = in_flight_state(head, kInFlightSuffix, subtask)) {
      task->replay_in_flight(decode_versioned<std::vector<std::string>>(kInFlightFormat, *bytes));
    }
    replay_overtaken_output(head, subtask, *task);
    if (options_.unaligned_checkpoints && !placement().slot_owner.empty()) {
      task->store_overtaken_output();
    }
    plan_.tasks.push_back(std::move(task));
  }

  void join_alignment(SourceOperatorBase& source, Task& task) {
    if (options_.watermark_alignment <= 0 || options_.micro_batch) return;
    if (!source.stamps_event_time()) return;
    if (!plan_.watermark_alignment) {
      plan_.watermark_alignment =
          std::make_unique<WatermarkAlignmentGroup>(options_.watermark_alignment);
    }
    size_t member =
        plan_.watermark_alignment->add_member([&wakeup = task.wakeup()] { wakeup.notify(); });
    source.join_alignment(plan_.watermark_alignment.get(), member);
  }

  // The edge's index in the job graph, as channel keys and stored
  // overtaken output name it.
  uint32_t edge_index(const ResolvedEdge& e) const {
    return static_cast<uint32_t>(e.spec - graph_.edges().data());
  }

  // The state an unaligned checkpoint stored under the pseudo-operator
  // `suffix` of `head`'s chain for one subtask, or null; refuses another
  // parallelism when there is any.
  const std::string* in_flight_state(int head, std::string_view suffix, int subtask) const {
    const std::string& name = graph_.node(head).name;
    const OperatorRestore* restore = restore_of(name + std::string(suffix));
    if (restore == nullptr) return nullptr;
    const std::vector<std::string>& states = restore->operator_states;
    bool any = std::any_of(states.begin(), states.end(), [](const auto& s) { return !s.empty(); });
    if (!any) return nullptr;
    if (states.size() != static_cast<size_t>(p(head))) {
      throw UsageError(fmt::format(
          "the checkpoint holds in-flight data of '{}' at parallelism {}: a checkpoint taken "
          "with --checkpoint-mode unaligned restores only at the parallelism it was taken at",
          name, states.size()));
    }
    const std::string& bytes = states[static_cast<size_t>(subtask)];
    return bytes.empty() ? nullptr : &bytes;
  }

  // What the producers' barriers overtook on their way to this subtask,
  // replayed by the reader of each channel after its own in-flight input.
  // Readers are numbered as connect_inputs() adds them.
  void replay_overtaken_output(int head, int subtask, Task& task) const {
    size_t input = 0;
    for (const ResolvedEdge& e : edges_) {
      if (e.spec->to != head || e.chained) continue;
      uint32_t edge = edge_index(e);
      int producer_head = head_of_[static_cast<size_t>(e.spec->from)];
      for (size_t producer = 0; producer < e.channels.size(); ++producer) {
        if (e.channels[producer][static_cast<size_t>(subtask)] == nullptr) continue;
        const std::string* bytes =
            in_flight_state(producer_head, kOvertakenOutputSuffix, static_cast<int>(producer));
        if (bytes != nullptr) {
          for (auto& [from_edge, consumer, recorded] :
               decode_versioned<OvertakenOutput>(kOvertakenOutputFormat, *bytes)) {
            if (from_edge == edge && consumer == static_cast<uint32_t>(subtask)) {
              task.replay_input(input, recorded);
            }
          }
        }
        ++input;
      }
    }
  }

  const OperatorRestore* restore_of(const std::string& name) const {
    if (options_.restore == nullptr) return nullptr;
    auto it = options_.restore->find(name);
    return it == options_.restore->end() ? nullptr : &it->second;
  }

  OperatorInstance build_operator(int id, int subtask, const std::string& task_name,
                                  std::map<int, OperatorInstance>& instances, Task& task) {
    const NodeSpec& node = graph_.node(id);
    FactoryArgs args;
    args.info = OperatorInfo{
        node.name, task_name, subtask, p(id), options_.max_parallelism, options_.key_hashing};
    for (size_t port = 0; port < node.ports.size(); ++port) {
      args.outputs.push_back(port_target(id, port, subtask, instances, task));
    }
    OperatorInstance instance = node.factory(args);
    instance.op->set_info(args.info);
    return instance;
  }

  DownstreamBase* port_target(int id, size_t port, int subtask,
                              std::map<int, OperatorInstance>& instances, Task& task) {
    const StreamTypeOps& type = *graph_.node(id).ports[port].type;
    std::vector<DownstreamBase*> targets;
    for (ResolvedEdge& e : edges_) {
      if (e.spec->from != id || static_cast<size_t>(e.spec->port) != port) continue;
      if (e.chained) {
        targets.push_back(instances.at(e.spec->to).inputs.at(static_cast<size_t>(e.spec->input)));
        continue;
      }
      std::vector<ChannelBase*> channels;
      const std::vector<ChannelBase*>& row = e.channels[static_cast<size_t>(subtask)];
      for (size_t consumer = 0; consumer < row.size(); ++consumer) {
        ChannelBase* c = row[consumer];
        if (c == nullptr) continue;
        c->set_producer(&task.wakeup());
        if (c->records_overtaken()) {
          task.add_overtaken_output(edge_index(e), static_cast<uint32_t>(consumer), c);
        }
        channels.push_back(c);
      }
      auto writer =
          e.partitioning == Partitioning::kHash
              ? e.spec->hash_writer(channels, options_.max_parallelism, options_.key_hashing)
              : type.make_writer(e.partitioning, channels, subtask);
      targets.push_back(writer->downstream());
      task.add_writer(std::move(writer));
    }
    if (targets.size() == 1) return targets.front();
    auto piece = targets.empty() ? type.make_discard() : type.make_fan_out(targets);
    DownstreamBase* raw = piece.get();
    task.own(std::move(piece));
    return raw;
  }

  void connect_inputs(int head, int subtask, OperatorInstance& instance, Task& task) {
    for (ResolvedEdge& e : edges_) {
      if (e.spec->to != head || e.chained) continue;
      const StreamTypeOps& type =
          *graph_.node(e.spec->from).ports.at(static_cast<size_t>(e.spec->port)).type;
      DownstreamBase* target = instance.inputs.at(static_cast<size_t>(e.spec->input));
      for (auto& row : e.channels) {
        ChannelBase* channel = row[static_cast<size_t>(subtask)];
        if (channel == nullptr) continue;
        channel->set_consumer(&task.wakeup());
        channel->set_priority_barriers(options_.unaligned_checkpoints);
        task.add_reader(type.make_reader(channel, target));
      }
    }
  }

  const JobGraph& graph_;
  const PlanOptions& options_;
  JobControl& control_;
  JobMetrics& metrics_;
  const Clock& clock_;
  std::vector<int> parallelism_;
  std::vector<ResolvedEdge> edges_;
  std::vector<int> head_of_;
  std::map<int, std::vector<int>> chains_;
  struct RemoteLink {
    std::string peer;
    ChannelKey key;
    ChannelBase* channel;
    std::unique_ptr<ElementEncoder> encoder;  // outbound
    std::unique_ptr<ElementDecoder> decoder;  // inbound
  };
  std::vector<RemoteLink> remote_links_;
  ExecutionPlan plan_;
};

}  // namespace

ExecutionPlan build_execution_plan(const JobGraph& graph, const PlanOptions& options,
                                   JobControl& control, JobMetrics& metrics, const Clock& clock) {
  return PlanBuilder(graph, options, control, metrics, clock).build();
}

}  // namespace sluice
