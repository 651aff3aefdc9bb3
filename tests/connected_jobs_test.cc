// Two-stream jobs end to end on the local executor, through the typed API:
// window joins (tumbling, sliding, session), a connected keyed co-process
// function, keyed broadcast state and asynchronous lookups in real tasks
// (the bound on requests holding the task's input back), each against a
// reference computed here with plain loops, at parallelism 1 and 3.
#include <algorithm>
#include <map>
#include <random>
#include <thread>
#include <tuple>

#include <gtest/gtest.h>

#include "connectors/collect_sink.h"
#include "operators/async_pool.h"
#include "runtime/api/topology.h"
#include "runtime/executor/local_executor.h"
#include "tests/process_runner.h"
#include "tests/test_support.h"

namespace sluice {
namespace {

using testing::sorted;
using testing::VectorSource;

struct Click {
  Timestamp time = 0;
  std::string user;
  int64_t id = 0;
  SLUICE_FIELDS(time, user, id)
};
struct View {
  Timestamp time = 0;
  std::string user;
  int64_t id = 0;
  SLUICE_FIELDS(time, user, id)
};

// user, click id, view id
using Pair = std::tuple<std::string, int64_t, int64_t>;

// In time order (each split too), a few users, ids unique per side.
template <class T>
std::vector<T> events(unsigned seed, int count, int users) {
  std::mt19937 rng(seed);
  std::vector<T> out;
  Timestamp t = 1000;
  for (int i = 0; i < count; ++i) {
    t += 1 + static_cast<Timestamp>(rng() % 3);  // no two events of a side at one time
    out.push_back(T{t, "u" + std::to_string(rng() % static_cast<unsigned>(users)), i});
  }
  return out;
}

template <class T>
Stream<T> source_of(Topology& topology, const std::string& name, std::vector<T> values) {
  auto strategy = bounded_out_of_orderness([](const T& e) { return e.time; }, 0);
  return topology.source<T>(name, std::make_shared<VectorSource<T>>(std::move(values), 3),
                            strategy);
}

// Where the keyed operators of a job run: parallelism and state backend.
struct Setup {
  int parallelism;
  StateBackendKind state;
};

JobResult run(Topology& topology, Setup setup) {
  testing::TempDir dir;
  LocalJobOptions options;
  options.plan.parallelism = setup.parallelism;
  options.plan.state_backend.kind = setup.state;
  options.plan.state_backend.rocksdb.directory = dir.file("state");
  return run_local(topology.graph(), options);
}

auto click_user = [](const Click& c) { return c.user; };
auto view_user = [](const View& v) { return v.user; };
auto pair_up = [](const Click& c, const View& v) { return Pair{c.user, c.id, v.id}; };

// Pairs per key whose windows (by `windows_of`) share a window.
template <class WindowsOf>
std::vector<Pair> window_join_reference(const std::vector<Click>& clicks,
                                        const std::vector<View>& views, WindowsOf windows_of) {
  std::vector<Pair> out;
  for (const Click& c : clicks) {
    for (const View& v : views) {
      if (c.user != v.user) continue;
      std::vector<TimeWindow> a = windows_of(c.time);
      std::vector<TimeWindow> b = windows_of(v.time);
      for (const TimeWindow& w : a) {
        out.insert(out.end(), std::count(b.begin(), b.end(), w), Pair{c.user, c.id, v.id});
      }
    }
  }
  return sorted(out);
}

// Session windows over both sides' times per user (touching sessions merge).
std::vector<Pair> session_reference(const std::vector<Click>& clicks,
                                    const std::vector<View>& views, DurationMs gap) {
  std::map<std::string, std::vector<std::pair<Timestamp, int>>> times;  // side 0 click, 1 view
  for (const Click& c : clicks) times[c.user].emplace_back(c.time, 0);
  for (const View& v : views) times[v.user].emplace_back(v.time, 1);
  std::map<std::pair<std::string, Timestamp>, int> session_of_time;
  std::vector<Pair> out;
  for (auto& [user, ts] : times) {
    std::sort(ts.begin(), ts.end());
    Timestamp end = kMinTimestamp;
    int session = 0;
    for (const auto& [t, side] : ts) {
      if (t > end) ++session;
      end = std::max(end, t + gap);
      session_of_time[{user, t}] = session;
    }
  }
  for (const Click& c : clicks) {
    for (const View& v : views) {
      if (c.user == v.user &&
          session_of_time.at({c.user, c.time}) == session_of_time.at({v.user, v.time})) {
        out.emplace_back(c.user, c.id, v.id);
      }
    }
  }
  return sorted(out);
}

template <class Assigner>
std::vector<Pair> run_window_join(const std::vector<Click>& clicks, const std::vector<View>& views,
                                  Assigner assigner, Setup setup) {
  Topology topology("window-join");
  auto out = std::make_shared<Collected<Pair>>();
  auto c = source_of(topology, "clicks", clicks);
  auto v = source_of(topology, "views", views);
  c.key_by(click_user)
      .window_join(v.key_by(view_user), assigner)
      .apply("join", pair_up)
      .sink("out", std::make_shared<CollectSink<Pair>>(out));
  JobResult result = run(topology, setup);
  EXPECT_TRUE(result.succeeded) << result.failure->message;
  return sorted(out->values());
}

class ConnectedJobs : public ::testing::TestWithParam<Setup> {};

TEST_P(ConnectedJobs, TumblingPairsBothSidesPerKeyAndWindow) {
  auto clicks = events<Click>(1, 2000, 7);
  auto views = events<View>(2, 2000, 7);
  std::vector<Pair> expected = window_join_reference(clicks, views, [](Timestamp t) {
    Timestamp start = t - t % 20;
    return std::vector<TimeWindow>{{start, start + 20}};
  });
  ASSERT_GT(expected.size(), 1000u);
  EXPECT_EQ(run_window_join(clicks, views, tumbling(20), GetParam()), expected);
}

TEST_P(ConnectedJobs, SlidingPairsOncePerSharedWindow) {
  auto clicks = events<Click>(3, 1500, 9);
  auto views = events<View>(4, 1500, 9);
  std::vector<Pair> expected = window_join_reference(clicks, views, [](Timestamp t) {
    std::vector<TimeWindow> windows;
    for (Timestamp start = t - t % 5; start > t - 15; start -= 5) {
      windows.push_back({start, start + 15});
    }
    return windows;
  });
  ASSERT_GT(expected.size(), 1000u);
  EXPECT_EQ(run_window_join(clicks, views, sliding(15, 5), GetParam()), expected);
}

TEST_P(ConnectedJobs, SessionsMergeAcrossBothSides) {
  auto clicks = events<Click>(5, 1500, 30);
  auto views = events<View>(6, 1500, 30);
  std::vector<Pair> expected = session_reference(clicks, views, 25);
  ASSERT_GT(expected.size(), 500u);
  EXPECT_EQ(run_window_join(clicks, views, session(25), GetParam()), expected);
}

INSTANTIATE_TEST_SUITE_P(Setups, ConnectedJobs,
                         ::testing::Values(Setup{1, StateBackendKind::kMemory},
                                           Setup{3, StateBackendKind::kMemory},
                                           Setup{3, StateBackendKind::kRocksDb}),
                         [](const auto& info) {
                           return "p" + std::to_string(info.param.parallelism) +
                                  (info.param.state == StateBackendKind::kMemory ? "_memory"
                                                                                 : "_rocksdb");
                         });

// Per click, the id of the user's latest view at or before the click's time
// (event time, not arrival): a co-process function whose two inputs share
// keyed state, the click waiting in state for its event-time timer.
struct LatestView {
  MapState<Timestamp, int64_t> views;
  MapState<Timestamp, std::vector<int64_t>> clicks;
  void open(KeyedStateBackend& state) {
    views = state.map_state<Timestamp, int64_t>("views");
    clicks = state.map_state<Timestamp, std::vector<int64_t>>("clicks");
  }
  void process1(const Click& c, KeyedContext<std::string, Pair>& ctx) {
    std::vector<int64_t> ids = clicks.get(c.time).value_or(std::vector<int64_t>{});
    ids.push_back(c.id);
    clicks.put(c.time, ids);
    ctx.register_event_timer(c.time);
  }
  void process2(const View& v, KeyedContext<std::string, Pair>&) {
    std::optional<int64_t> same_time = views.get(v.time);
    views.put(v.time, std::max(v.id, same_time.value_or(v.id)));
  }
  void on_timer(Timestamp ts, TimeDomain, KeyedContext<std::string, Pair>& ctx) {
    int64_t latest = -1;
    views.for_each_in(kMinTimestamp, ts, [&](Timestamp, int64_t id) { latest = id; });
    for (int64_t id : clicks.get(ts).value_or(std::vector<int64_t>{})) {
      ctx.emit(Pair{ctx.key(), id, latest});
    }
    clicks.remove(ts);
  }
};

TEST_P(ConnectedJobs, ConnectedStreamsShareKeyedStateAndTimers) {
  auto clicks = events<Click>(7, 2000, 11);
  auto views = events<View>(8, 800, 11);
  Topology topology("co-process");
  auto out = std::make_shared<Collected<Pair>>();
  source_of(topology, "clicks", clicks)
      .connect(source_of(topology, "views", views))
      .key_by(click_user, view_user)
      .process<Pair>("latest-view", LatestView{})
      .sink("out", std::make_shared<CollectSink<Pair>>(out));
  JobResult result = run(topology, GetParam());
  ASSERT_TRUE(result.succeeded) << result.failure->message;

  // A view at the click's time counts: the timer at t fires once the
  // watermark reached t, after every record at t arrived.
  std::vector<Pair> expected;
  for (const Click& c : clicks) {
    int64_t latest = -1;
    Timestamp latest_time = kMinTimestamp;
    for (const View& v : views) {
      if (v.user == c.user && v.time <= c.time && v.time >= latest_time) {
        latest = v.time > latest_time ? v.id : std::max(latest, v.id);
        latest_time = v.time;
      }
    }
    expected.emplace_back(c.user, c.id, latest);
  }
  EXPECT_EQ(sorted(out->values()), sorted(expected));
}

// Keyed broadcast: views carry a "rule" (the user's tier = id % 3) that
// every subtask must see; clicks are emitted with the tier in force at
// their time.
TEST_P(ConnectedJobs, KeyedBroadcastStateReachesEverySubtask) {
  auto clicks = events<Click>(9, 2000, 13);
  auto rules = events<View>(10, 200, 13);
  Topology topology("broadcast");
  auto out = std::make_shared<Collected<Pair>>();
  using Versions = std::vector<std::pair<Timestamp, int64_t>>;
  struct Tiered {
    MapState<Timestamp, std::vector<int64_t>> held;
    void open(KeyedStateBackend& state) {
      held = state.map_state<Timestamp, std::vector<int64_t>>("held");
    }
    void process(const Click& c,
                 KeyedBroadcastContext<std::string, std::string, Versions, Pair>& ctx) {
      auto ids = held.get(c.time).value_or(std::vector<int64_t>{});
      ids.push_back(c.id);
      held.put(c.time, ids);
      ctx.register_event_timer(c.time);
    }
    void process_broadcast(const View& v, BroadcastContext<std::string, Versions, Pair>& ctx) {
      Versions versions = ctx.state().contains(v.user) ? *ctx.state().get(v.user) : Versions{};
      versions.emplace_back(v.time, v.id % 3);
      ctx.state().put(v.user, versions);
    }
    void on_timer(Timestamp ts, TimeDomain,
                  KeyedBroadcastContext<std::string, std::string, Versions, Pair>& ctx) {
      int64_t tier = -1;
      Timestamp best = kMinTimestamp;
      if (const Versions* versions = ctx.broadcast_state().get(ctx.key())) {
        for (const auto& [t, value] : *versions) {
          if (t <= ts && t >= best) {
            best = t;
            tier = value;
          }
        }
      }
      for (int64_t id : held.get(ts).value_or(std::vector<int64_t>{})) {
        ctx.emit(Pair{ctx.key(), id, tier});
      }
      held.remove(ts);
    }
  };
  auto rule_stream = source_of(topology, "rules", rules)
                         .broadcast(BroadcastStateDescriptor<std::string, Versions>{"tiers"});
  source_of(topology, "clicks", clicks)
      .key_by(click_user)
      .connect(rule_stream)
      .process<Pair>("tiered", Tiered{})
      .sink("out", std::make_shared<CollectSink<Pair>>(out));
  JobResult result = run(topology, GetParam());
  ASSERT_TRUE(result.succeeded) << result.failure->message;

  std::vector<Pair> expected;
  for (const Click& c : clicks) {
    int64_t tier = -1;
    Timestamp best = kMinTimestamp;
    for (const View& r : rules) {
      if (r.user == c.user && r.time <= c.time && r.time >= best) {
        best = r.time;
        tier = r.id % 3;
      }
    }
    expected.emplace_back(c.user, c.id, tier);
  }
  EXPECT_EQ(sorted(out->values()), sorted(expected));
}

// Asynchronous lookups in real tasks: at most 4 in flight per subtask, on
// a shared pool; every record's result arrives once.
TEST_P(ConnectedJobs, AsyncLookupsInRealTasksLoseNothing) {
  Topology topology("async");
  auto out = std::make_shared<Collected<int64_t>>();
  std::vector<int64_t> values(20000);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<int64_t>(i);
  auto pool = std::make_shared<AsyncPool>(4);
  topology.source<int64_t>("src", std::make_shared<VectorSource<int64_t>>(values, 3))
      .async_map(
          "lookup", [pool](const int64_t& x) { return pool->submit([x] { return x * 3; }); },
          AsyncOptions{.capacity = 4})
      .rebalance()
      .async_map(
          "lookup-unordered",
          [pool](const int64_t& x) { return pool->submit([x] { return x + 1; }); },
          AsyncOptions{.capacity = 16, .order = AsyncOrder::kUnordered})
      .sink("out", std::make_shared<CollectSink<int64_t>>(out));
  JobResult result = run(topology, GetParam());
  ASSERT_TRUE(result.succeeded) << result.failure->message;
  std::vector<int64_t> expected;
  for (int64_t x : values) expected.push_back(x * 3 + 1);
  EXPECT_EQ(sorted(out->values()), expected);
}

}  // namespace
}  // namespace sluice
