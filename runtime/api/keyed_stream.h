// KeyedStream: a stream partitioned by key (hash partitioning through key
// groups), with keyed operators: rolling reduce and aggregate, keyed process
// functions, time windows and count windows.
//
// WindowedStream: a keyed stream with a window assigner, finished by a window
// function (aggregate, reduce or process); allowed lateness and a late-data
// side output are optional.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "operators/keyed_process.h"
#include "operators/sliced_window_operator.h"
#include "operators/window_contents.h"
#include "operators/window_operator.h"

namespace sluice {

template <class T, class K, class KeyFn, class Assigner>
class WindowedStream;
template <class A, class KeyFnA, class B, class KeyFnB, class K>
class KeyedConnectedStreams;
template <class A, class KeyFnA, class B, class KeyFnB, class K>
class IntervalJoin;
template <class A, class KeyFnA, class B, class KeyFnB, class K, class Assigner>
class WindowJoin;
template <class T, class K, class KeyFn, class R, class UK, class UV>
class KeyedBroadcastConnectedStream;
template <class T, class K, class KeyFn>
class CountWindowedStream;

template <class T, class K, class KeyFn>
class KeyedStream {
 public:
  KeyedStream(Stream<T> input, KeyFn key_of) : input_(input), key_of_(std::move(key_of)) {}

  // fn.process(const T&, KeyedContext<K, Out>&); see operators/keyed_process.h.
  template <class Out, class Fn>
  Stream<Out> process(std::string name, Fn fn) const {
    KeyFn key_of = key_of_;
    return attach<Out>(std::move(name), [key_of, fn](const FactoryArgs& args) {
      return one_input_instance<T, Out>(
          std::make_unique<KeyedProcessOperator<T, Out, K, KeyFn, Fn>>(key_of, fn), args);
    });
  }

  // Emits, per record, the new aggregate of its key.
  template <class Agg>
  auto aggregate(std::string name, Agg agg) const {
    using Op = RollingAggregateOperator<T, K, KeyFn, Agg>;
    using Out = std::decay_t<decltype(agg.result(agg.create()))>;
    KeyFn key_of = key_of_;
    return attach<Out>(std::move(name), [key_of, agg](const FactoryArgs& args) {
      return one_input_instance<T, Out>(std::make_unique<Op>(key_of, agg), args);
    });
  }

  // Emits, per record, the reduction of its key's records so far.
  template <class ReduceFn>
  Stream<T> reduce(std::string name, ReduceFn fn) const {
    return aggregate(std::move(name), ReduceAggregate<T, ReduceFn>{std::move(fn)});
  }

  template <class Assigner>
  WindowedStream<T, K, KeyFn, Assigner> window(Assigner assigner) const {
    return WindowedStream<T, K, KeyFn, Assigner>(*this, std::move(assigner));
  }

  // Windows of `size` records per key, firing every `slide` records.
  CountWindowedStream<T, K, KeyFn> count_window(int64_t size, int64_t slide = 0) const {
    return CountWindowedStream<T, K, KeyFn>(*this, size, slide > 0 ? slide : size);
  }

  // With another keyed stream (keys of the same type) into one operator.
  template <class B, class K2, class KeyFnB>
  KeyedConnectedStreams<T, KeyFn, B, KeyFnB, K> connect(
      const KeyedStream<B, K2, KeyFnB>& other) const {
    static_assert(std::is_same_v<K, K2>, "connected keyed streams need keys of one type");
    return KeyedConnectedStreams<T, KeyFn, B, KeyFnB, K>(*this, other);
  }
  // With broadcast state that `rules` writes.
  template <class R, class UK, class UV>
  KeyedBroadcastConnectedStream<T, K, KeyFn, R, UK, UV> connect(
      const BroadcastStream<R, UK, UV>& rules) const {
    return KeyedBroadcastConnectedStream<T, K, KeyFn, R, UK, UV>(*this, rules);
  }
  // Pairs records of the two streams whose times lie within an interval.
  template <class B, class K2, class KeyFnB>
  IntervalJoin<T, KeyFn, B, KeyFnB, K> interval_join(
      const KeyedStream<B, K2, KeyFnB>& other) const {
    static_assert(std::is_same_v<K, K2>, "joined keyed streams need keys of one type");
    return IntervalJoin<T, KeyFn, B, KeyFnB, K>(*this, other);
  }
  // Pairs records of the two streams in the same key and window.
  template <class B, class K2, class KeyFnB, class Assigner>
  WindowJoin<T, KeyFn, B, KeyFnB, K, Assigner> window_join(const KeyedStream<B, K2, KeyFnB>& other,
                                                           Assigner assigner) const {
    static_assert(std::is_same_v<K, K2>, "joined keyed streams need keys of one type");
    return WindowJoin<T, KeyFn, B, KeyFnB, K, Assigner>(*this, other, std::move(assigner));
  }

  // Adds a node fed by this keyed stream (hash partitioned) and by
  // `more_inputs` (inputs 1, 2, ...; the factory's operator takes them all).
  template <class Out>
  Stream<Out> attach(std::string name, OperatorFactory factory,
                     std::vector<PortSpec> side_ports = {},
                     const std::vector<KeyedStream>& more_inputs = {}) const {
    Topology& topology = input_.topology();
    int inputs = 1 + static_cast<int>(more_inputs.size());
    int id = topology.template add_node<Out>(std::move(name), inputs, std::move(factory),
                                             std::move(side_ports));
    connect_hashed(id, 0);
    for (int i = 1; i < inputs; ++i) more_inputs[static_cast<size_t>(i - 1)].connect_hashed(id, i);
    return Stream<Out>(&topology, id, 0);
  }

  // Connects this stream to input `input` of node `id`, partitioned by key.
  void connect_hashed(int id, int input) const {
    KeyFn key_of = key_of_;
    input_.connect_to(
        id, input,
        [key_of](const std::vector<ChannelBase*>& channels, int max_parallelism,
                 KeyHashing hashing) {
          return std::unique_ptr<NetworkWriterBase>(std::make_unique<HashWriter<T, K, KeyFn>>(
              TypedStreamOps<T>::typed_channels(channels), key_of, max_parallelism, hashing));
        });
  }

  const KeyFn& key_fn() const { return key_of_; }
  const Stream<T>& stream() const { return input_; }

 private:
  Stream<T> input_;
  KeyFn key_of_;
};

template <class T, class K, class KeyFn, class Assigner>
class WindowedStream {
 public:
  WindowedStream(KeyedStream<T, K, KeyFn> keyed, Assigner assigner)
      : keyed_(std::move(keyed)), assigner_(std::move(assigner)) {}

  // Keeps windows updatable for `lateness` after they fire (event time).
  WindowedStream allowed_lateness(DurationMs lateness) const {
    WindowedStream copy = *this;
    copy.options_.allowed_lateness = lateness;
    return copy;
  }
  // Also windows `other` (a keyed stream of the same type and key), read
  // as a second input of the window operator: a union without a hop.
  WindowedStream also_from(KeyedStream<T, K, KeyFn> other) const {
    WindowedStream copy = *this;
    copy.more_inputs_.push_back(std::move(other));
    return copy;
  }
  // Sends records too late for any window to the side output `tag`.
  WindowedStream late_data(OutputTag<T> tag) const {
    WindowedStream copy = *this;
    copy.late_tag_ = std::move(tag);
    return copy;
  }

  // result_fn(const K&, const TimeWindow&, R&&) -> Out, R = agg.result(acc).
  template <class Agg, class ResultFn>
  auto aggregate(std::string name, Agg agg, ResultFn result_fn) const {
    using Acc = std::decay_t<decltype(agg.create())>;
    using R = std::decay_t<decltype(agg.result(std::declval<const Acc&>()))>;
    using Out = std::decay_t<std::invoke_result_t<ResultFn&, const K&, const TimeWindow&, R&&>>;
    auto fire = [agg, result_fn](const K& key, const TimeWindow& w, const Acc& acc,
                                 Emitter<Out>& out) mutable {
      out.emit(result_fn(key, w, agg.result(acc)));
    };
    if constexpr (std::is_same_v<Assigner, SlidingWindows>) {
      if (SlicedWindowOperator<T, Out, K, KeyFn, Agg, decltype(fire)>::applies(assigner_)) {
        return build_sliced<Out>(std::move(name), agg, std::move(fire));
      }
    }
    return build<Out>(std::move(name), AccumulatorContents<T, Agg>(agg), std::move(fire));
  }

  // The aggregate's result per key and window.
  template <class Agg>
  auto aggregate(std::string name, Agg agg) const {
    using R = std::decay_t<decltype(agg.result(agg.create()))>;
    return aggregate(std::move(name), std::move(agg),
                     [](const K&, const TimeWindow&, R&& r) { return std::move(r); });
  }

  template <class ReduceFn>
  Stream<T> reduce(std::string name, ReduceFn fn) const {
    return aggregate(std::move(name), ReduceAggregate<T, ReduceFn>{std::move(fn)});
  }

  template <class ReduceFn, class ResultFn>
  auto reduce(std::string name, ReduceFn fn, ResultFn result_fn) const {
    return aggregate(std::move(name), ReduceAggregate<T, ReduceFn>{std::move(fn)},
                     std::move(result_fn));
  }

  // fn(const K&, const TimeWindow&, const std::vector<T>&, Emitter<Out>&)
  template <class Out, class Fn>
  Stream<Out> process(std::string name, Fn fn) const {
    return build<Out>(std::move(name), ElementContents<T>(), std::move(fn));
  }

 private:
  template <class Out, class Agg, class FireFn>
  Stream<Out> build_sliced(std::string name, Agg agg, FireFn fire) const {
    using Op = SlicedWindowOperator<T, Out, K, KeyFn, Agg, FireFn>;
    SlidingWindows windows = assigner_;
    return attach_window<Out>(std::move(name), [=](auto key_of, auto options, auto late) {
      return std::make_unique<Op>(key_of, windows, agg, fire, options, late);
    });
  }

  template <class Out, class Contents, class FireFn>
  Stream<Out> build(std::string name, Contents contents, FireFn fire) const {
    using Op = WindowOperator<T, Out, K, KeyFn, Assigner, Contents, FireFn>;
    Assigner assigner = assigner_;
    return attach_window<Out>(std::move(name), [=](auto key_of, auto options, auto late) {
      return std::make_unique<Op>(key_of, assigner, contents, fire, options, late);
    });
  }

  // Adds a window operator made by make(key_of, options, late_target) per
  // subtask, with the late-data port when a tag was set.
  template <class Out, class MakeOp>
  Stream<Out> attach_window(std::string name, MakeOp make) const {
    KeyFn key_of = keyed_.key_fn();
    WindowOptions options = options_;
    bool has_late = late_tag_.has_value();
    size_t inputs = 1 + more_inputs_.size();
    auto factory = [=](const FactoryArgs& args) {
      Downstream<T>* late = has_late ? args.template output<T>(1) : nullptr;
      OperatorInstance instance = one_input_instance<T, Out>(make(key_of, options, late), args);
      instance.inputs.resize(inputs, instance.inputs.front());
      return instance;
    };
    std::vector<PortSpec> side_ports;
    if (has_late) side_ports.push_back(PortSpec{late_tag_->name, TypedStreamOps<T>::instance()});
    return keyed_.template attach<Out>(std::move(name), std::move(factory), std::move(side_ports),
                                       more_inputs_);
  }

  KeyedStream<T, K, KeyFn> keyed_;
  Assigner assigner_;
  WindowOptions options_;
  std::optional<OutputTag<T>> late_tag_;
  std::vector<KeyedStream<T, K, KeyFn>> more_inputs_;
};

template <class T, class K, class KeyFn>
class CountWindowedStream {
 public:
  CountWindowedStream(KeyedStream<T, K, KeyFn> keyed, int64_t size, int64_t slide)
      : keyed_(std::move(keyed)), size_(size), slide_(slide) {}

  // The aggregate over each count window.
  template <class Agg>
  auto aggregate(std::string name, Agg agg) const {
    using R = std::decay_t<decltype(agg.result(agg.create()))>;
    return process<R>(std::move(name),
                      [agg](const K&, const std::vector<T>& elements, Emitter<R>& out) {
                        auto acc = agg.create();
                        for (const T& e : elements) agg.add(acc, e);
                        out.emit(agg.result(acc));
                      });
  }

  template <class ReduceFn>
  Stream<T> reduce(std::string name, ReduceFn fn) const {
    return aggregate(std::move(name), ReduceAggregate<T, ReduceFn>{std::move(fn)});
  }

  // fn(const K&, const std::vector<T>&, Emitter<Out>&)
  template <class Out, class Fn>
  Stream<Out> process(std::string name, Fn fn) const {
    using Op = CountWindowOperator<T, Out, K, KeyFn, Fn>;
    if (size_ < 1 || slide_ < 1 || slide_ > size_) {
      throw UsageError("count window '" + name + "': need 1 <= slide <= size");
    }
    KeyFn key_of = keyed_.key_fn();
    int64_t size = size_;
    int64_t slide = slide_;
    return keyed_.template attach<Out>(std::move(name), [=](const FactoryArgs& args) {
      return one_input_instance<T, Out>(std::make_unique<Op>(key_of, size, slide, fn), args);
    });
  }

 private:
  KeyedStream<T, K, KeyFn> keyed_;
  int64_t size_;
  int64_t slide_;
};

}  // namespace sluice

#include "runtime/api/connected_streams.h"
