// Checkpoints of whole jobs on the local executor: a job is cancelled
// mid-run once checkpoints completed (as a crash would stop it: sinks are
// closed, never finished), restored from its latest checkpoint at another
// parallelism, and the output the two-phase sink committed over both runs
// must equal a reference exactly once.
#include <atomic>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "connectors/generator_source.h"
#include "runtime/api/topology.h"
#include "runtime/checkpoint/restore.h"
#include "runtime/executor/local_executor.h"
#include "runtime/executor/restarts.h"
#include "tests/process_runner.h"
#include "tests/two_phase_test_sink.h"

namespace sluice {
namespace {

// window start, key, count, sum
using Row = std::tuple<int64_t, int64_t, int64_t, int64_t>;
using CommitLog = testing::CommitLog<Row>;
using TwoPhaseSink = testing::TwoPhaseSink<Row>;

constexpr uint64_t kEvents = 40000;
constexpr int64_t kKeys = 13;
constexpr int64_t kWindow = 500;

// Set to make the job's map throw once, at this number.
std::atomic<int64_t> g_fail_at{-1};

void build(Topology& topology, std::shared_ptr<CommitLog> log) {
  GeneratorOptions generator;
  generator.count = kEvents;
  generator.rate = 40000;  // about one second, so that checkpoints happen
  auto source = std::make_shared<GeneratorSource<int64_t, int64_t (*)(uint64_t, SplitRandom&)>>(
      generator, [](uint64_t n, SplitRandom&) { return static_cast<int64_t>(n); });
  struct CountSum {
    std::pair<int64_t, int64_t> create() const { return {0, 0}; }
    void add(std::pair<int64_t, int64_t>& a, const int64_t& v) const {
      ++a.first;
      a.second += v;
    }
    std::pair<int64_t, int64_t> result(const std::pair<int64_t, int64_t>& a) const { return a; }
    void merge(std::pair<int64_t, int64_t>& a, const std::pair<int64_t, int64_t>& b) const {
      a.first += b.first;
      a.second += b.second;
    }
  };
  topology
      .source<int64_t>("numbers", source,
                       bounded_out_of_orderness([](const int64_t& v) { return v; }, 0))
      .map("maybe-fail",
           [](int64_t v) {
             int64_t expected = v;
             if (v == g_fail_at.load() && g_fail_at.compare_exchange_strong(expected, -1)) {
               throw std::runtime_error("injected failure at " + std::to_string(v));
             }
             return v;
           })
      .key_by([](const int64_t& v) { return v % kKeys; })
      .window(tumbling(kWindow))
      .aggregate("count", CountSum{},
                 [](const int64_t& key, const TimeWindow& w, std::pair<int64_t, int64_t>&& r) {
                   return Row{w.start, key, r.first, r.second};
                 })
      .sink("committed", std::make_shared<TwoPhaseSink>(log));
}

std::vector<Row> reference() {
  std::map<std::pair<int64_t, int64_t>, std::pair<int64_t, int64_t>> totals;
  for (int64_t n = 0; n < static_cast<int64_t>(kEvents); ++n) {
    auto& t = totals[{n / kWindow * kWindow, n % kKeys}];
    ++t.first;
    t.second += n;
  }
  std::vector<Row> rows;
  for (const auto& [k, v] : totals) rows.emplace_back(k.first, k.second, v.first, v.second);
  std::sort(rows.begin(), rows.end());
  return rows;
}

TEST(CheckpointJobs, CancelMidRunRestoreAtAnotherParallelismCommitsExactlyOnce) {
  testing::TempDir dir;
  auto log = std::make_shared<CommitLog>();

  // Run 1 at parallelism 2, cancelled once three checkpoints completed.
  std::atomic<bool> cancel{false};
  LocalJobOptions first;
  first.plan.job_name = "numbers";
  first.plan.parallelism = 2;
  first.checkpoint.directory = dir.path();
  first.checkpoint.interval = 40;
  first.progress_interval = 5;
  first.cancel_flag = &cancel;
  first.on_progress = [&](const ProgressSample& s) {
    if (s.checkpoints_completed >= 3) cancel = true;
  };
  Topology one("numbers");
  build(one, log);
  JobResult cancelled = run_local(one.graph(), first);
  ASSERT_TRUE(cancelled.cancelled) << "the job ended before three checkpoints completed";
  size_t committed_before = log->rows.size();
  EXPECT_GT(committed_before, 0u) << "nothing was committed before the cancel";
  EXPECT_LT(committed_before, reference().size());

  // Run 2 at parallelism 3 from the latest checkpoint.
  RestorePoint point = find_restore_point(dir.path(), "numbers", "latest");
  EXPECT_GE(point.metadata.id, 3);
  // A task manager that takes over only old subtask 0's key groups reads
  // only that subtask's keyed state, and all the operator state.
  RestorePoint part = find_restore_point(
      dir.path(), "numbers", "latest",
      [](const std::string&, int, int, int old_subtask) { return old_subtask == 0; });
  size_t keyed_operators = 0;
  for (const auto& [name, full] : point.operators) {
    const OperatorRestore& filtered = part.operators.at(name);
    ASSERT_EQ(filtered.keyed.size(), full.keyed.size()) << name;
    EXPECT_EQ(filtered.operator_states, full.operator_states) << name;
    if (full.keyed.size() != 2) continue;
    ++keyed_operators;
    EXPECT_EQ(filtered.keyed[0].states.size(), full.keyed[0].states.size()) << name;
    EXPECT_FALSE(full.keyed[1].states.empty()) << name;
    EXPECT_TRUE(filtered.keyed[1].states.empty()) << name;
  }
  EXPECT_GT(keyed_operators, 0u);
  LocalJobOptions second;
  second.plan.job_name = "numbers";
  second.plan.parallelism = 3;
  second.plan.restore = &point.operators;
  second.checkpoint.directory = dir.path();
  second.checkpoint.interval = 40;
  second.last_checkpoint_id = point.metadata.id;
  Topology two("numbers");
  build(two, log);
  JobResult finished = run_local(two.graph(), second);
  ASSERT_TRUE(finished.succeeded) << finished.failure->message;

  std::vector<Row> committed = log->rows;
  std::sort(committed.begin(), committed.end());
  EXPECT_EQ(committed, reference());
}

TEST(CheckpointJobs, AFailedJobRestartsFromItsLatestCheckpoint) {
  testing::TempDir dir;
  auto log = std::make_shared<CommitLog>();
  g_fail_at = 30000;  // about three quarters into the run
  LocalJobOptions options;
  options.plan.job_name = "numbers";
  options.plan.parallelism = 2;
  options.checkpoint.directory = dir.path();
  options.checkpoint.interval = 40;
  RestartStrategy strategy;
  strategy.kind = RestartStrategy::Kind::kFixedDelay;
  strategy.delay = 10;
  Topology topology("numbers");
  build(topology, log);
  RecoveryResult recovery = run_with_restarts(topology.graph(), options, strategy);
  ASSERT_TRUE(recovery.last.succeeded) << recovery.last.failure->message;
  EXPECT_EQ(recovery.restarts, 1);
  EXPECT_EQ(g_fail_at.load(), -1) << "the failure was never injected";
  std::vector<Row> committed = log->rows;
  std::sort(committed.begin(), committed.end());
  EXPECT_EQ(committed, reference());
}

TEST(CheckpointJobs, RestartAttemptsAreBounded) {
  RestartStrategy strategy;
  strategy.kind = RestartStrategy::Kind::kExponentialBackoff;
  strategy.delay = 100;
  strategy.max_delay = 500;
  EXPECT_EQ(strategy.delay_before(1), 100);
  EXPECT_EQ(strategy.delay_before(2), 200);
  EXPECT_EQ(strategy.delay_before(3), 400);
  EXPECT_EQ(strategy.delay_before(4), 500);
  strategy.kind = RestartStrategy::Kind::kFixedDelay;
  EXPECT_EQ(strategy.delay_before(4), 100);

  // A job that always fails gives up after max_attempts restarts.
  struct Always : SourceReader<int64_t> {
    std::vector<int> splits() const override { return {0}; }
    ReadResult read(Batch<int64_t>&, size_t, Timestamp) override {
      throw std::runtime_error("broken source");
    }
  };
  struct AlwaysSource : Source<int64_t> {
    std::unique_ptr<SourceReader<int64_t>> create_reader(int, int) const override {
      return std::make_unique<Always>();
    }
  };
  auto log = std::make_shared<CommitLog>();
  Topology topology("broken");
  topology.source<int64_t>("src", std::make_shared<AlwaysSource>())
      .map("pair",
           [](int64_t v) {
             return Row{v, v, v, v};
           })
      .sink("out", std::make_shared<TwoPhaseSink>(log));
  strategy.delay = 1;
  strategy.max_attempts = 2;
  RecoveryResult recovery = run_with_restarts(topology.graph(), LocalJobOptions{}, strategy);
  EXPECT_FALSE(recovery.last.succeeded);
  EXPECT_EQ(recovery.restarts, 2);
  EXPECT_NE(recovery.last.failure->message.find("broken source"), std::string::npos);
}

}  // namespace
}  // namespace sluice
