// Asynchronous lookups on a harness: ordered and unordered results against
// the plain function, watermarks never overtaken, slow lookups timed out and
// issued again (counted), failing lookups failing the operator after their
// attempts (counted, never dropped), and requests in flight at a snapshot
// issued again after a restore, at the same and at another parallelism.
#include <algorithm>
#include <atomic>
#include <mutex>
#include <random>
#include <thread>
#include <variant>

#include <gtest/gtest.h>

#include "operators/async_operator.h"
#include "operators/async_pool.h"
#include "tests/held_lookups.h"
#include "tests/operator_harness.h"

namespace sluice {
namespace {

using testing::HarnessSetup;
using testing::HeldLookups;
using testing::OperatorHarness;

int64_t lookup(int64_t x) {
  return x * 10 + 1;
}

// Looks up on a pool after a random delay of up to 3 ms.
struct SlowLookup {
  std::shared_ptr<AsyncPool> pool = std::make_shared<AsyncPool>(4);
  Future<int64_t> operator()(const int64_t& x) const {
    return pool->submit([x] {
      thread_local std::mt19937 rng(std::hash<std::thread::id>()(std::this_thread::get_id()));
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));  // sleep-ok: latency
      return lookup(x);
    });
  }
};

using SlowOp = AsyncOperator<int64_t, int64_t, SlowLookup>;

// Delivers wakeups until `n` results arrived (bounded by the harness's wait).
void await_results(OperatorHarness<int64_t, int64_t>& h, size_t n) {
  while (h.output.records.size() < n) ASSERT_TRUE(h.deliver_wakeup()) << "results stopped coming";
}

TEST(AsyncLookup, OrderedResultsLeaveInInputOrder) {
  OperatorHarness<int64_t, int64_t> h(
      std::make_unique<SlowOp>(SlowLookup{}, AsyncOptions{.capacity = 8}));
  std::vector<int64_t> expected;
  for (int64_t x = 0; x < 300; ++x) {
    h.push(x, x);
    expected.push_back(lookup(x));
  }
  await_results(h, expected.size());
  EXPECT_EQ(h.output.take(), expected);
  EXPECT_FALSE(h.op().has_pending_work());
}

// Records results and watermarks in the order they leave.
struct Sequence final : Downstream<int64_t> {
  std::vector<std::variant<int64_t, Timestamp>> items;
  void push_batch(Batch<int64_t>& batch) override {
    for (auto& r : batch) items.emplace_back(std::in_place_index<0>, r.value);
  }
  void push_watermark(Timestamp wm) override { items.emplace_back(std::in_place_index<1>, wm); }
};

TEST(AsyncLookup, UnorderedResultsNeverCrossAWatermark) {
  OperatorHarness<int64_t, int64_t> h(std::make_unique<SlowOp>(
      SlowLookup{}, AsyncOptions{.capacity = 30, .order = AsyncOrder::kUnordered}));
  Sequence sequence;
  h.op().output().set_target(&sequence);
  std::vector<int64_t> expected;
  for (int64_t x = 0; x < 200; ++x) {
    h.push(x, x);
    expected.push_back(lookup(x));
    if (x % 50 == 49) h.watermark(x);
  }
  size_t results = 0;
  while (results < expected.size()) {
    ASSERT_TRUE(h.deliver_wakeup());
    results = 0;
    for (const auto& item : sequence.items) results += item.index() == 0;
  }
  // Each watermark follows exactly the results of the records before it.
  std::vector<int64_t> seen;
  for (const auto& item : sequence.items) {
    if (item.index() == 0) {
      seen.push_back(std::get<0>(item));
      continue;
    }
    Timestamp wm = std::get<1>(item);
    EXPECT_EQ(seen.size(), static_cast<size_t>(wm + 1)) << "watermark " << wm;
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, expected);
}

using HeldOp = AsyncOperator<int64_t, int64_t, HeldLookups>;

TEST(AsyncLookup, SlowRequestsTimeOutAndAreIssuedAgain) {
  HeldLookups lookups{.answer = lookup};
  OperatorHarness<int64_t, int64_t> h(
      std::make_unique<HeldOp>(lookups, AsyncOptions{.capacity = 10, .timeout = 50}));
  for (int64_t x = 0; x < 5; ++x) h.push(x, 0);
  ASSERT_EQ(lookups.issued(), 5u);
  h.advance_processing_time(49);
  EXPECT_EQ(h.metrics.async_timeouts.value(), 0u);
  h.advance_processing_time(1);  // all five time out and go again
  EXPECT_EQ(h.metrics.async_timeouts.value(), 5u);
  ASSERT_EQ(lookups.issued(), 10u);
  // The first attempts answer late: ignored. The second ones count.
  lookups.complete_from(0);
  await_results(h, 5);
  EXPECT_EQ(h.output.take(), (std::vector<int64_t>{1, 11, 21, 31, 41}));
  EXPECT_FALSE(h.op().has_pending_work());
}

TEST(AsyncLookup, RequestsThatTimeOutEveryAttemptFailTheOperator) {
  HeldLookups lookups{.answer = lookup};
  OperatorHarness<int64_t, int64_t> h(std::make_unique<HeldOp>(
      lookups, AsyncOptions{.capacity = 10, .timeout = 50, .max_attempts = 2}));
  h.push(7, 0);
  h.advance_processing_time(50);
  EXPECT_EQ(h.metrics.async_timeouts.value(), 1u);
  try {
    h.advance_processing_time(50);
    FAIL() << "the second timeout should fail the operator";
  } catch (const ExternalError& e) {
    EXPECT_NE(std::string(e.what()).find("timed out after 50 ms (attempt 2 of 2)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(h.metrics.async_timeouts.value(), 2u);
}

struct FailingLookup {
  std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);
  Future<int64_t> operator()(const int64_t&) const {
    ++*calls;
    Promise<int64_t> promise;
    promise.set_error(std::make_exception_ptr(std::runtime_error("connection refused")));
    return promise.future();
  }
};

TEST(AsyncLookup, FailingRequestsAreRetriedThenFailTheOperator) {
  FailingLookup fn;
  OperatorHarness<int64_t, int64_t> h(
      std::make_unique<AsyncOperator<int64_t, int64_t, FailingLookup>>(
          fn, AsyncOptions{.max_attempts = 3}));
  h.push(1, 0);
  try {
    while (h.deliver_wakeup()) {
    }
    FAIL() << "the operator should have failed";
  } catch (const ExternalError& e) {
    EXPECT_NE(std::string(e.what()).find("failed: connection refused (attempt 3 of 3)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(*fn.calls, 3);
  EXPECT_EQ(h.metrics.async_failures.value(), 3u);
  EXPECT_TRUE(h.output.records.empty());
}

// Half the records answered, a snapshot, then the rest answered: the
// restored operator issues exactly the unanswered ones again.
TEST(AsyncLookup, RequestsInFlightAreIssuedAgainAfterARestore) {
  HeldLookups held{.answer = lookup};
  OperatorHarness<int64_t, int64_t> before(
      std::make_unique<HeldOp>(held, AsyncOptions{.capacity = 6}));
  for (int64_t x = 0; x < 20; ++x) before.push(x, x);
  ASSERT_EQ(held.issued(), 6u);  // the other 14 wait for a place
  held.complete_from(0);
  await_results(before, 6);
  while (held.issued() < 12) ASSERT_TRUE(before.deliver_wakeup());
  std::vector<int64_t> out = before.output.take();
  OperatorSnapshot snapshot = before.snapshot(1);
  ASSERT_FALSE(snapshot.operator_state.empty());

  for (int parallelism : {1, 2}) {
    OperatorRestore restore;
    restore.operator_states = {snapshot.operator_state};
    std::vector<int64_t> all = out;
    for (int s = 0; s < parallelism; ++s) {
      HeldLookups again{.answer = lookup};
      OperatorHarness<int64_t, int64_t> after(
          std::make_unique<HeldOp>(again, AsyncOptions{.capacity = 100}),
          HarnessSetup{s, parallelism, 0, &restore, {}});
      size_t mine = again.issued();
      again.complete_from(0);
      await_results(after, mine);
      for (int64_t v : after.output.take()) all.push_back(v);
    }
    std::vector<int64_t> expected;
    for (int64_t x = 0; x < 20; ++x) expected.push_back(lookup(x));
    std::sort(all.begin(), all.end());
    EXPECT_EQ(all, expected) << "restored at parallelism " << parallelism;
  }
}

TEST(AsyncLookup, FullOperatorHoldsItsInputBack) {
  HeldLookups held{.answer = lookup};
  OperatorHarness<int64_t, int64_t> h(std::make_unique<HeldOp>(held, AsyncOptions{.capacity = 2}));
  EXPECT_TRUE(h.op().has_input_room());
  h.push(1, 0);
  EXPECT_TRUE(h.op().has_input_room());
  h.push(2, 0);
  EXPECT_FALSE(h.op().has_input_room());
  EXPECT_TRUE(h.op().has_pending_work());
  held.complete_from(0);
  await_results(h, 2);
  EXPECT_TRUE(h.op().has_input_room());
  EXPECT_FALSE(h.op().has_pending_work());
}

}  // namespace
}  // namespace sluice
