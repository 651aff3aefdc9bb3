// Two streams in one operator.
//
// Keyed, both sides keyed by keys of one type:
//   orders.key_by(order_id).connect(payments.key_by(payment_order))
//       .process<Out>("match", MatchFn{});            // KeyedCoProcessOperator
//   clicks.key_by(user).interval_join(views.key_by(user))
//       .between(-5'000, 10'000).join("attributed", fn);  // fn(const A&, const B&) -> Out
//   bids.key_by(auction).window_join(asks.key_by(auction), tumbling(10'000))
//       .apply("matched", fn);                         // fn(const A&, const B&) -> Out
//       (or .co_group<Out>("name", fn) with both sides' records per key and window)
//
// Broadcast state, the main stream keyed or not:
//   auto rules = rule_stream.broadcast(BroadcastStateDescriptor<std::string, Rule>{"rules"});
//   events.connect(rules).process<Out>("apply", fn);
//   events.key_by(user).connect(rules).process<Out>("apply", fn);
//
// A two-input operator's watermark is the smallest over both inputs (idle
// inputs aside), and its checkpoint barriers are aligned across both; the
// task does both for any operator with several inputs. Building happens on
// one thread before the job runs.
#pragma once

#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "operators/broadcast_process.h"
#include "operators/interval_join.h"
#include "operators/keyed_process.h"

namespace sluice {

// Adds a node fed by two keyed streams, input 0 and input 1.
template <class Out, class A, class KeyFnA, class B, class KeyFnB, class K>
Stream<Out> attach_keyed_pair(const KeyedStream<A, K, KeyFnA>& first,
                              const KeyedStream<B, K, KeyFnB>& second, std::string name,
                              OperatorFactory factory) {
  Topology& topology = first.stream().topology();
  int id = topology.template add_node<Out>(std::move(name), 2, std::move(factory));
  first.connect_hashed(id, 0);
  second.connect_hashed(id, 1);
  return Stream<Out>(&topology, id, 0);
}

template <class A, class KeyFnA, class B, class KeyFnB, class K>
class KeyedConnectedStreams {
 public:
  KeyedConnectedStreams(KeyedStream<A, K, KeyFnA> first, KeyedStream<B, K, KeyFnB> second)
      : first_(std::move(first)), second_(std::move(second)) {}

  // fn.process1(const A&, KeyedContext<K, Out>&), fn.process2(const B&, ...);
  // see operators/keyed_process.h.
  template <class Out, class Fn>
  Stream<Out> process(std::string name, Fn fn) const {
    using Op = KeyedCoProcessOperator<A, B, Out, K, KeyFnA, KeyFnB, Fn>;
    KeyFnA key_a = first_.key_fn();
    KeyFnB key_b = second_.key_fn();
    return attach_keyed_pair<Out>(
        first_, second_, std::move(name), [key_a, key_b, fn](const FactoryArgs& args) {
          return two_input_instance<A, B, Out>(std::make_unique<Op>(key_a, key_b, fn), args);
        });
  }

 private:
  KeyedStream<A, K, KeyFnA> first_;
  KeyedStream<B, K, KeyFnB> second_;
};

template <class A, class B>
class ConnectedStreams {
 public:
  ConnectedStreams(Stream<A> first, Stream<B> second)
      : first_(std::move(first)), second_(std::move(second)) {}

  // Keys both sides: key_a(const A&) and key_b(const B&) return one type.
  template <class KeyFnA, class KeyFnB>
  auto key_by(KeyFnA key_a, KeyFnB key_b) const {
    auto first = first_.key_by(std::move(key_a));
    auto second = second_.key_by(std::move(key_b));
    return first.connect(second);
  }

 private:
  Stream<A> first_;
  Stream<B> second_;
};

template <class A, class KeyFnA, class B, class KeyFnB, class K>
class IntervalJoin {
 public:
  IntervalJoin(KeyedStream<A, K, KeyFnA> first, KeyedStream<B, K, KeyFnB> second)
      : first_(std::move(first)), second_(std::move(second)) {}

  // A left record at t pairs with right records at [t + lower, t + upper].
  IntervalJoin between(DurationMs lower, DurationMs upper) const {
    if (lower > upper) {
      throw UsageError("interval join: lower bound " + std::to_string(lower) +
                       " ms is above the upper bound " + std::to_string(upper) + " ms");
    }
    IntervalJoin copy = *this;
    copy.lower_ = lower;
    copy.upper_ = upper;
    copy.bounded_ = true;
    return copy;
  }

  // join(const A&, const B&) -> Out per pair, at the later timestamp.
  template <class JoinFn>
  auto join(std::string name, JoinFn join) const {
    using Out = std::decay_t<std::invoke_result_t<JoinFn&, const A&, const B&>>;
    using Op = IntervalJoinOperator<A, B, Out, K, KeyFnA, KeyFnB, JoinFn>;
    if (!bounded_) throw UsageError("interval join '" + name + "' needs between(lower, upper)");
    KeyFnA key_a = first_.key_fn();
    KeyFnB key_b = second_.key_fn();
    DurationMs lower = lower_;
    DurationMs upper = upper_;
    return attach_keyed_pair<Out>(first_, second_, std::move(name), [=](const FactoryArgs& args) {
      return two_input_instance<A, B, Out>(std::make_unique<Op>(key_a, key_b, lower, upper, join),
                                           args);
    });
  }

 private:
  KeyedStream<A, K, KeyFnA> first_;
  KeyedStream<B, K, KeyFnB> second_;
  DurationMs lower_ = 0;
  DurationMs upper_ = 0;
  bool bounded_ = false;
};

// The window join: both sides tagged into one variant stream, keyed and
// windowed by the window operator (which brings every assigner, merging
// sessions, lateness, rescaling and both state backends), pairing the two
// sides' records per key and window when the window fires. The tagging maps
// chain to their producers; the window operator reads both directly.
template <class A, class KeyFnA, class B, class KeyFnB, class K, class Assigner>
class WindowJoin {
 public:
  WindowJoin(KeyedStream<A, K, KeyFnA> first, KeyedStream<B, K, KeyFnB> second, Assigner assigner)
      : first_(std::move(first)), second_(std::move(second)), assigner_(std::move(assigner)) {}

  // join(const A&, const B&) -> Out per pair of a key's window, emitted at
  // the window's last timestamp.
  template <class JoinFn>
  auto apply(std::string name, JoinFn join) const {
    using Out = std::decay_t<std::invoke_result_t<JoinFn&, const A&, const B&>>;
    return co_group<Out>(std::move(name),
                         [join](const K&, const TimeWindow&, const std::vector<A>& lefts,
                                const std::vector<B>& rights, Emitter<Out>& out) mutable {
                           for (const A& l : lefts) {
                             for (const B& r : rights) out.emit(join(l, r));
                           }
                         });
  }

  // Flink's coGroup: fn(const K&, const TimeWindow&, const std::vector<A>&,
  // const std::vector<B>&, Emitter<Out>&) once per key and window that has
  // records on either side.
  template <class Out, class CoGroupFn>
  Stream<Out> co_group(std::string name, CoGroupFn fn) const {
    using V = std::variant<A, B>;
    auto left = tag(first_.stream(), name + "-left",
                    [](A&& a) { return V(std::in_place_index<0>, std::move(a)); });
    auto right = tag(second_.stream(), name + "-right",
                     [](B&& b) { return V(std::in_place_index<1>, std::move(b)); });
    KeyFnA key_a = first_.key_fn();
    KeyFnB key_b = second_.key_fn();
    auto key_of = [key_a, key_b](const V& v) -> K {
      return v.index() == 0 ? key_a(std::get<0>(v)) : key_b(std::get<1>(v));
    };
    auto split = [fn](const K& key, const TimeWindow& w, const std::vector<V>& values,
                      Emitter<Out>& out) mutable {
      std::vector<A> lefts;
      std::vector<B> rights;
      for (const V& v : values) {
        if (v.index() == 0) {
          lefts.push_back(std::get<0>(v));
        } else {
          rights.push_back(std::get<1>(v));
        }
      }
      fn(key, w, lefts, rights, out);
    };
    return left.key_by(key_of)
        .window(assigner_)
        .also_from(right.key_by(key_of))
        .template process<Out>(std::move(name), std::move(split));
  }

 private:
  template <class T, class TagFn>
  static auto tag(const Stream<T>& stream, std::string name, TagFn fn) {
    int parallelism = stream.topology().graph().node(stream.node()).parallelism;
    auto tagged = stream.map(std::move(name), fn);
    tagged.parallelism(parallelism);
    return tagged;
  }

  KeyedStream<A, K, KeyFnA> first_;
  KeyedStream<B, K, KeyFnB> second_;
  Assigner assigner_;
};

// A stream sent whole to every subtask of the operator it connects to,
// carrying the writes of broadcast state `descriptor`.
template <class R, class UK, class UV>
class BroadcastStream {
 public:
  BroadcastStream(Stream<R> stream, BroadcastStateDescriptor<UK, UV> descriptor)
      : stream_(stream.broadcast()), descriptor_(std::move(descriptor)) {}
  const Stream<R>& stream() const { return stream_; }
  const BroadcastStateDescriptor<UK, UV>& descriptor() const { return descriptor_; }

 private:
  Stream<R> stream_;
  BroadcastStateDescriptor<UK, UV> descriptor_;
};

// The main stream (not keyed) with a broadcast stream.
template <class T, class R, class UK, class UV>
class BroadcastConnectedStream {
 public:
  BroadcastConnectedStream(Stream<T> main, BroadcastStream<R, UK, UV> rules)
      : main_(std::move(main)), rules_(std::move(rules)) {}

  // fn.process(const T&, ReadOnlyBroadcastContext<UK, UV, Out>&),
  // fn.process_broadcast(const R&, BroadcastContext<UK, UV, Out>&).
  template <class Out, class Fn>
  Stream<Out> process(std::string name, Fn fn) const {
    using Op = BroadcastProcessOperator<T, R, Out, UK, UV, Fn>;
    Topology& topology = main_.topology();
    int id = topology.template add_node<Out>(std::move(name), 2, [fn](const FactoryArgs& args) {
      return two_input_instance<T, R, Out>(std::make_unique<Op>(fn), args);
    });
    main_.connect_to(id, 0);
    rules_.stream().connect_to(id, 1);
    return Stream<Out>(&topology, id, 0);
  }

 private:
  Stream<T> main_;
  BroadcastStream<R, UK, UV> rules_;
};

// A keyed stream with a broadcast stream.
template <class T, class K, class KeyFn, class R, class UK, class UV>
class KeyedBroadcastConnectedStream {
 public:
  KeyedBroadcastConnectedStream(KeyedStream<T, K, KeyFn> main, BroadcastStream<R, UK, UV> rules)
      : main_(std::move(main)), rules_(std::move(rules)) {}

  // fn.process(const T&, KeyedBroadcastContext<K, UK, UV, Out>&),
  // fn.process_broadcast(const R&, BroadcastContext<UK, UV, Out>&),
  // optional open(KeyedStateBackend&) and on_timer(ts, domain, context).
  template <class Out, class Fn>
  Stream<Out> process(std::string name, Fn fn) const {
    using Op = KeyedBroadcastProcessOperator<T, R, Out, K, KeyFn, UK, UV, Fn>;
    KeyFn key_of = main_.key_fn();
    Topology& topology = main_.stream().topology();
    int id =
        topology.template add_node<Out>(std::move(name), 2, [key_of, fn](const FactoryArgs& args) {
          return two_input_instance<T, R, Out>(std::make_unique<Op>(key_of, fn), args);
        });
    main_.connect_hashed(id, 0);
    rules_.stream().connect_to(id, 1);
    return Stream<Out>(&topology, id, 0);
  }

 private:
  KeyedStream<T, K, KeyFn> main_;
  BroadcastStream<R, UK, UV> rules_;
};

}  // namespace sluice
