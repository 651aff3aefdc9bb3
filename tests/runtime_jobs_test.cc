// Jobs run end to end on the local executor: stateless chains, partitioning,
// keyed operators, union, failures in user code, and backpressure.
#include <map>
#include <numeric>

#include <gtest/gtest.h>

#include "connectors/collect_sink.h"
#include "runtime/api/topology.h"
#include "runtime/executor/local_executor.h"
#include "tests/test_support.h"

namespace sluice {
namespace {

using testing::sorted;
using testing::VectorSource;

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

JobResult run(Topology& topology, int parallelism) {
  LocalJobOptions options;
  options.plan.parallelism = parallelism;
  return run_local(topology.graph(), options);
}

class ParallelismTest : public ::testing::TestWithParam<int> {};

TEST_P(ParallelismTest, StatelessChainMatchesReference) {
  Topology topology("stateless");
  auto out = std::make_shared<Collected<int64_t>>();
  topology.source<int64_t>("src", std::make_shared<VectorSource<int64_t>>(iota(10000), 4))
      .map("square", [](int64_t x) { return x * x; })
      .filter("odd", [](const int64_t& x) { return x % 2 == 1; })
      .flat_map<int64_t>("twice",
                         [](int64_t x, Emitter<int64_t>& e) {
                           e.emit(x);
                           e.emit(-x);
                         })
      .rebalance()
      .map("id", [](int64_t x) { return x; })
      .sink("out", std::make_shared<CollectSink<int64_t>>(out));
  JobResult result = run(topology, GetParam());
  ASSERT_TRUE(result.succeeded) << result.failure->message;

  std::vector<int64_t> expected;
  for (int64_t x = 0; x < 10000; ++x) {
    if ((x * x) % 2 == 1) {
      expected.push_back(x * x);
      expected.push_back(-x * x);
    }
  }
  EXPECT_EQ(sorted(out->values()), sorted(expected));
  EXPECT_EQ(result.records_in, 10000u);
  EXPECT_EQ(result.records_out, expected.size());
  EXPECT_EQ(out->finished_writers(), GetParam());
}

TEST_P(ParallelismTest, KeyedReduceGivesRunningSumsPerKey) {
  Topology topology("keyed");
  auto out = std::make_shared<Collected<std::pair<int64_t, int64_t>>>();
  topology.source<int64_t>("src", std::make_shared<VectorSource<int64_t>>(iota(5000), 3))
      .map("pair", [](int64_t x) { return std::make_pair(x % 7, x); })
      .key_by([](const std::pair<int64_t, int64_t>& p) { return p.first; })
      .reduce("sum",
              [](const std::pair<int64_t, int64_t>& a, const std::pair<int64_t, int64_t>& b) {
                return std::make_pair(a.first, a.second + b.second);
              })
      .sink("out", std::make_shared<CollectSink<std::pair<int64_t, int64_t>>>(out));
  JobResult result = run(topology, GetParam());
  ASSERT_TRUE(result.succeeded) << result.failure->message;

  // One output per input; the largest running sum per key is the total.
  std::map<int64_t, int64_t> totals;
  for (int64_t x = 0; x < 5000; ++x) totals[x % 7] += x;
  std::map<int64_t, int64_t> largest;
  for (const auto& [key, sum] : out->values()) largest[key] = std::max(largest[key], sum);
  EXPECT_EQ(out->values().size(), 5000u);
  EXPECT_EQ(largest, totals);
}

TEST_P(ParallelismTest, UnionAndBroadcast) {
  Topology topology("union");
  auto out = std::make_shared<Collected<int64_t>>();
  auto a = topology.source<int64_t>("a", std::make_shared<VectorSource<int64_t>>(iota(100)));
  auto b = topology.source<int64_t>("b", std::make_shared<VectorSource<int64_t>>(iota(50)));
  a.union_with("both", {b})
      .broadcast()
      .map("copy", [](int64_t x) { return x; })
      .sink("out", std::make_shared<CollectSink<int64_t>>(out));
  JobResult result = run(topology, GetParam());
  ASSERT_TRUE(result.succeeded) << result.failure->message;
  // Every subtask of `copy` sees every record once.
  EXPECT_EQ(out->values().size(), static_cast<size_t>(150 * GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Parallelism, ParallelismTest, ::testing::Values(1, 3));

TEST(JobFailure, ExceptionInUserFunctionNamesOperatorAndSubtask) {
  Topology topology("failing");
  auto out = std::make_shared<Collected<int64_t>>();
  topology.source<int64_t>("src", std::make_shared<VectorSource<int64_t>>(iota(100000), 2))
      .rebalance()
      .map("explode",
           [](int64_t x) {
             if (x == 77777) throw std::runtime_error("bad value 77777");
             return x;
           })
      .sink("out", std::make_shared<CollectSink<int64_t>>(out));
  JobResult result = run(topology, 2);
  ASSERT_FALSE(result.succeeded);
  ASSERT_TRUE(result.failure);
  EXPECT_EQ(result.failure->kind, ErrorKind::kUser);
  EXPECT_NE(result.failure->message.find("operator 'explode' (subtask "), std::string::npos)
      << result.failure->message;
  EXPECT_NE(result.failure->message.find("/2): bad value 77777"), std::string::npos)
      << result.failure->message;
}

TEST(JobFailure, ExceptionInSinkFailsTheJob) {
  struct ThrowingSink : Sink<int64_t> {
    struct Writer : SinkWriter<int64_t> {
      void write(Batch<int64_t>&) override { throw std::runtime_error("disk full"); }
    };
    std::unique_ptr<SinkWriter<int64_t>> create_writer() const override {
      return std::make_unique<Writer>();
    }
  };
  Topology topology("failing-sink");
  topology.source<int64_t>("src", std::make_shared<VectorSource<int64_t>>(iota(10)))
      .sink("sink", std::make_shared<ThrowingSink>());
  JobResult result = run(topology, 1);
  ASSERT_TRUE(result.failure);
  EXPECT_NE(result.failure->message.find("operator 'sink' (subtask 1/1): disk full"),
            std::string::npos)
      << result.failure->message;
}

// A source that generates records as fast as it can and counts them; the
// sink refuses to take anything until the test opens its gate.
struct Pipe {
  std::mutex mutex;
  std::condition_variable changed;
  int64_t generated = 0;
  int64_t received = 0;
  int64_t max_in_flight = 0;
  bool open = false;
};

class CountingSource final : public Source<int64_t> {
 public:
  CountingSource(std::shared_ptr<Pipe> pipe, int64_t total) : pipe_(pipe), total_(total) {}
  std::unique_ptr<SourceReader<int64_t>> create_reader(int, int) const override {
    return std::make_unique<Reader>(pipe_, total_);
  }

 private:
  struct Reader final : SourceReader<int64_t> {
    Reader(std::shared_ptr<Pipe> pipe, int64_t total) : pipe(pipe), total(total) {}
    std::vector<int> splits() const override { return {0}; }
    ReadResult read(Batch<int64_t>& out, size_t max, Timestamp) override {
      if (next == total) return {ReadStatus::kFinished, 0, 0};
      while (next < total && out.size() < max) out.push_back({next++, 0});
      std::lock_guard lock(pipe->mutex);
      pipe->generated = next;
      pipe->max_in_flight = std::max(pipe->max_in_flight, pipe->generated - pipe->received);
      pipe->changed.notify_all();
      return {ReadStatus::kRecords, 0, 0};
    }
    std::shared_ptr<Pipe> pipe;
    int64_t total;
    int64_t next = 0;
  };
  std::shared_ptr<Pipe> pipe_;
  int64_t total_;
};

class GatedSink final : public Sink<int64_t> {
 public:
  explicit GatedSink(std::shared_ptr<Pipe> pipe) : pipe_(pipe) {}
  std::unique_ptr<SinkWriter<int64_t>> create_writer() const override {
    return std::make_unique<Writer>(pipe_);
  }

 private:
  struct Writer final : SinkWriter<int64_t> {
    explicit Writer(std::shared_ptr<Pipe> pipe) : pipe(pipe) {}
    void write(Batch<int64_t>& batch) override {
      std::unique_lock lock(pipe->mutex);
      pipe->changed.wait(lock, [&] { return pipe->open; });
      pipe->received += static_cast<int64_t>(batch.size());
    }
    std::shared_ptr<Pipe> pipe;
  };
  std::shared_ptr<Pipe> pipe_;
};

TEST(Backpressure, SlowSinkBoundsRecordsInFlight) {
  constexpr int64_t kTotal = 2'000'000;
  constexpr size_t kCapacity = 4;
  auto pipe = std::make_shared<Pipe>();
  Topology topology("backpressure");
  topology.source<int64_t>("src", std::make_shared<CountingSource>(pipe, kTotal))
      .rebalance()
      .map("pass", [](int64_t x) { return x; })
      .rebalance()
      .map("pass2", [](int64_t x) { return x; })
      .sink("slow", std::make_shared<GatedSink>(pipe));
  LocalJobOptions options;
  options.plan.channel_capacity = kCapacity;

  std::thread opener([&] {
    // Open the gate once the pipeline is full, or once everything was
    // generated (which would mean there was no backpressure at all).
    std::unique_lock lock(pipe->mutex);
    pipe->changed.wait_for(lock, std::chrono::seconds(30), [&] {
      return pipe->generated >= static_cast<int64_t>(2 * kCapacity * kMaxBatchRecords) ||
             pipe->generated == kTotal;
    });
    pipe->open = true;
    pipe->changed.notify_all();
  });
  JobResult result = run_local(topology.graph(), options);
  opener.join();
  ASSERT_TRUE(result.succeeded);
  EXPECT_EQ(pipe->received, kTotal);
  // Two channels of kCapacity batches, the batches held by the three tasks
  // and the one being generated: nothing more may be in flight.
  const int64_t bound = static_cast<int64_t>((2 * kCapacity + 4) * kMaxBatchRecords);
  EXPECT_LE(pipe->max_in_flight, bound);
  EXPECT_GE(pipe->max_in_flight, static_cast<int64_t>(2 * kCapacity * kMaxBatchRecords));
}

}  // namespace
}  // namespace sluice
