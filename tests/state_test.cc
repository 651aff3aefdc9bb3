// Unit tests of the state module: key groups, the memory backend's state
// kinds, namespaces, snapshot and restore with rescaling, timer queues.
#include <map>
#include <memory>
#include <random>
#include <set>
#include <tuple>

#include <gtest/gtest.h>

#include "runtime/core/codec.h"
#include "runtime/core/codec_signature.h"
#include "runtime/core/hash.h"
#include "runtime/state_backend/keyed_state_backend.h"
#include "state/timer_queue.h"
#include "tests/process_runner.h"

namespace sluice {
namespace {

TEST(KeyGroups, RangesPartitionAllGroups) {
  for (int maxp : {1, 7, 128, 1000}) {
    for (int p = 1; p <= std::min(maxp, 9); ++p) {
      int next = 0;
      for (int i = 0; i < p; ++i) {
        KeyGroupRange r = key_group_range_for_subtask(maxp, p, i);
        EXPECT_EQ(r.first, next);
        next = r.last + 1;
        for (int g = r.first; g <= r.last; ++g) {
          EXPECT_EQ(subtask_for_key_group(KeyGroup{static_cast<uint16_t>(g)}, maxp, p), i);
        }
      }
      EXPECT_EQ(next, maxp);
    }
  }
}

// The conformance suite: every test runs against both backends.
class BackendTest : public ::testing::TestWithParam<StateBackendKind> {
 protected:
  static constexpr int kMaxP = 128;

  std::unique_ptr<KeyedStateBackend> make(KeyGroupRange range = {0, kMaxP - 1},
                                          StateBackendKind kind = GetParam()) {
    StateBackendConfig config;
    config.kind = kind;
    config.rocksdb.directory = dir_.file("instance-" + std::to_string(instances_++));
    return std::make_unique<KeyedStateBackend>(config, range, kMaxP);
  }
  static void set_key(KeyedStateBackend& b, const std::string& key) {
    std::string bytes = encode_to_string(key);
    b.set_current_key(key_group_for_hash(hash_bytes(bytes), kMaxP), bytes);
  }

  testing::TempDir dir_;
  int instances_ = 0;
};

TEST_P(BackendTest, ValueStateIsScopedByKeyAndNamespace) {
  auto b = make();
  ValueState<int64_t> v = b->value_state<int64_t>("v");
  set_key(*b, "a");
  EXPECT_FALSE(v.value());
  v.update(1);
  set_key(*b, "b");
  EXPECT_FALSE(v.value());
  v.update(2);
  b->set_current_namespace("ns1");
  EXPECT_FALSE(v.value());
  v.update(3);
  b->set_current_namespace("");
  EXPECT_EQ(v.value(), 2);
  set_key(*b, "a");
  EXPECT_EQ(v.value(), 1);
  v.clear();
  EXPECT_FALSE(v.value());
  v.modify([] { return int64_t{10}; }, [](int64_t& x) { x += 5; });
  EXPECT_EQ(v.value(), 15);
  v.modify([] { return int64_t{10}; }, [](int64_t& x) { x += 5; });
  EXPECT_EQ(v.value(), 20);
  set_key(*b, "b");
  b->set_current_namespace("ns1");
  EXPECT_EQ(v.value(), 3);
  v.clear();
  EXPECT_FALSE(v.value());
  b->set_current_namespace("");
  EXPECT_EQ(v.value(), 2);  // clearing one namespace left the other alone
}

TEST_P(BackendTest, ListMapAndReducingState) {
  auto b = make();
  auto list = b->list_state<std::string>("l");
  auto map = b->map_state<std::string, int>("m");
  auto sum = b->reducing_state<int>("r", [](int x, int y) { return x + y; });
  set_key(*b, "k");
  EXPECT_TRUE(list.get().empty());
  list.add("x");
  list.add("y");
  EXPECT_EQ(list.get(), (std::vector<std::string>{"x", "y"}));
  list.update({"z"});
  list.add("w");
  EXPECT_EQ(list.get(), (std::vector<std::string>{"z", "w"}));
  map.put("one", 1);
  map.put("two", 2);
  map.put("one", 11);
  EXPECT_EQ(map.get("one"), 11);
  EXPECT_FALSE(map.get("three"));
  map.remove("two");
  EXPECT_EQ(map.entries(), (std::map<std::string, int>{{"one", 11}}));
  EXPECT_FALSE(sum.get());
  sum.add(3);
  EXPECT_EQ(sum.get(), 3);
  sum.add(4);
  EXPECT_EQ(sum.get(), 7);
  set_key(*b, "other");
  EXPECT_TRUE(list.get().empty());
  EXPECT_TRUE(map.empty());
  EXPECT_FALSE(sum.get());
  set_key(*b, "k");
  list.clear();
  map.clear();
  EXPECT_TRUE(list.get().empty());
  EXPECT_TRUE(map.empty());
  EXPECT_EQ(sum.get(), 7);
}

TEST_P(BackendTest, SameNameWithAnotherTypeIsAnError) {
  auto b = make();
  b->value_state<int>("s");
  EXPECT_THROW(b->value_state<std::string>("s"), std::logic_error);
}

// A state restored under its name but declared with another kind (a list
// that became a value) is named in the error, not misread.
TEST_P(BackendTest, AStateRestoredAsAnotherKindIsRefusedByName) {
  auto source = make();
  set_key(*source, "k");
  source->list_state<int64_t>("history").add(7);
  KeyedSnapshot snapshot = decode_from_string<KeyedSnapshot>(encode_to_string(source->snapshot()));
  for (StateBackendKind kind : {StateBackendKind::kMemory, StateBackendKind::kRocksDb}) {
    auto target = make({0, kMaxP - 1}, kind);
    target->restore({snapshot});
    try {
      target->value_state<int64_t>("history");
      FAIL() << "a list restored as a value";
    } catch (const InputError& e) {
      EXPECT_STREQ(e.what(),
                   "state 'history' was checkpointed as list state and is now declared as value "
                   "state; a state cannot change its kind across a restore (give the new state "
                   "another name)");
    }
    // Under its own kind it restores.
    auto again = make({0, kMaxP - 1}, kind);
    again->restore({snapshot});
    set_key(*again, "k");
    EXPECT_EQ(again->list_state<int64_t>("history").get(), (std::vector<int64_t>{7}));
  }
}

// A struct of a job's first version, and the same struct after it gained
// fields at its end with default values.
struct CartV1 {
  int64_t items = 0;
  std::string owner;
  SLUICE_FIELDS(items, owner)
};
struct CartV2 {
  int64_t items = 0;
  std::string owner;
  double total = -1;
  std::vector<std::string> coupons{"none"};
  SLUICE_FIELDS(items, owner, total, coupons)
};

// Schema evolution: a value state of a struct that gained fields at its end
// restores with their defaults, from either backend into either; any other
// change of the value type (here: another type altogether, or fields of a
// list's elements) is named in the error, not misread.
TEST_P(BackendTest, AStructThatGainedFieldsRestoresAndOtherTypeChangesAreRefused) {
  auto source = make();
  for (int i = 0; i < 20; ++i) {
    set_key(*source, "k" + std::to_string(i));
    source->value_state<CartV1>("cart").update(CartV1{i, "o" + std::to_string(i)});
    source->list_state<CartV1>("history").add(CartV1{i, "h"});
  }
  KeyedSnapshot snapshot = decode_from_string<KeyedSnapshot>(encode_to_string(source->snapshot()));
  for (StateBackendKind kind : {StateBackendKind::kMemory, StateBackendKind::kRocksDb}) {
    auto target = make({0, kMaxP - 1}, kind);
    target->restore({snapshot});
    ValueState<CartV2> cart = target->value_state<CartV2>("cart");
    for (int i = 0; i < 20; ++i) {
      set_key(*target, "k" + std::to_string(i));
      std::optional<CartV2> got = cart.value();
      ASSERT_TRUE(got.has_value()) << i;
      EXPECT_EQ(got->items, i);
      EXPECT_EQ(got->owner, "o" + std::to_string(i));
      EXPECT_EQ(got->total, -1);
      EXPECT_EQ(got->coupons, std::vector<std::string>{"none"});
    }
    // The upgraded state snapshots in its new layout.
    auto next = make({0, kMaxP - 1}, kind);
    next->restore({decode_from_string<KeyedSnapshot>(encode_to_string(target->snapshot()))});
    set_key(*next, "k3");
    EXPECT_EQ(next->value_state<CartV2>("cart").value()->owner, "o3");

    auto refused = [&](auto declare, const std::string& message) {
      auto other = make({0, kMaxP - 1}, kind);
      other->restore({snapshot});
      try {
        declare(*other);
        ADD_FAILURE() << "restored: " << message;
      } catch (const InputError& e) {
        EXPECT_EQ(e.what(), message);
      }
    };
    refused([](KeyedStateBackend& b) { b.value_state<std::string>("cart"); },
            "state 'cart' was checkpointed with values of type S(i64,str) and is now declared "
            "with values of type str; a value type may only gain struct fields at its end (give "
            "the new state another name, or keep the old type)");
    refused([](KeyedStateBackend& b) { b.list_state<CartV2>("history"); },
            "state 'history' was checkpointed with values of type [S(i64,str)] and is now "
            "declared with values of type [S(i64,str,f64,[str])]; a value type may only gain "
            "struct fields at its end (give the new state another name, or keep the old type)");
  }
}

TEST(CodecSignature, DescribesShapesAndFindsLeadingFields) {
  EXPECT_EQ(codec_signature<CartV2>(), "S(i64,str,f64,[str])");
  EXPECT_EQ((codec_signature<std::map<std::string, std::optional<uint8_t>>>()), "{str:u8?}");
  EXPECT_EQ((codec_signature<std::pair<bool, int32_t>>()), "(bool,i32)");
  EXPECT_EQ((codec_signature<std::variant<int64_t, std::string>>()), "<i64|str>");
  EXPECT_EQ(leading_fields_of("S(i64,str)", "S(i64,str,f64,[str])"), 2u);
  EXPECT_EQ(leading_fields_of("S(i64,str)", "S(i64,str)"), std::nullopt);
  EXPECT_EQ(leading_fields_of("S(i64,str)", "S(str,i64,f64)"), std::nullopt);
  EXPECT_EQ(leading_fields_of("S(i64,S(str,u8))", "S(i64,S(str,u8),u8)"), 2u);
  EXPECT_EQ(leading_fields_of("S(i64,S(str))", "S(i64,S(str,u8))"), std::nullopt);
  EXPECT_EQ(leading_fields_of("[S(i64)]", "[S(i64,str)]"), std::nullopt);
}

std::string window_name(int64_t i) {
  std::string name = std::to_string(i);
  name.insert(name.begin(), 'w');
  return name;
}

TEST_P(BackendTest, ManyKeysAndNamespacesRoundTrip) {
  auto b = make();
  auto v = b->value_state<int64_t>("v");
  for (int64_t i = 0; i < 2000; ++i) {
    set_key(*b, "key" + std::to_string(i % 300));
    b->set_current_namespace(window_name(i % 7));
    v.modify([] { return int64_t{0}; }, [&](int64_t& x) { x += i; });
  }
  std::map<std::pair<int, int>, int64_t> expected;
  for (int64_t i = 0; i < 2000; ++i)
    expected[{static_cast<int>(i % 300), static_cast<int>(i % 7)}] += i;
  for (const auto& [kn, sum] : expected) {
    set_key(*b, "key" + std::to_string(kn.first));
    b->set_current_namespace(window_name(kn.second));
    ASSERT_EQ(v.value(), sum);
  }
  EXPECT_EQ(b->entry_count(), expected.size());
}

// Snapshots restore into either backend at another parallelism: every key
// lands in exactly one new subtask, with its value, namespace and list.
TEST_P(BackendTest, SnapshotRestoresAtAnotherParallelismIntoEitherBackend) {
  auto source = make();
  auto v = source->value_state<int64_t>("v");
  auto l = source->list_state<int64_t>("l");
  for (int64_t i = 0; i < 500; ++i) {
    set_key(*source, "key" + std::to_string(i));
    v.update(i);
    source->set_current_namespace("ns");
    l.add(i);
    l.add(-i);
    source->set_current_namespace("");
  }
  KeyedSnapshot snapshot = decode_from_string<KeyedSnapshot>(encode_to_string(source->snapshot()));

  for (StateBackendKind target_kind : {StateBackendKind::kMemory, StateBackendKind::kRocksDb}) {
    int64_t found = 0;
    for (int i = 0; i < 3; ++i) {
      auto target = make(key_group_range_for_subtask(kMaxP, 3, i), target_kind);
      target->restore({snapshot});
      auto restored = target->value_state<int64_t>("v");
      auto restored_list = target->list_state<int64_t>("l");
      int64_t found_here = 0;
      for (int64_t k = 0; k < 500; ++k) {
        std::string bytes = encode_to_string("key" + std::to_string(k));
        KeyGroup g = key_group_for_hash(hash_bytes(bytes), kMaxP);
        if (!target->key_group_range().contains(g)) continue;
        target->set_current_key(g, bytes);
        ASSERT_EQ(restored.value(), k);
        target->set_current_namespace("ns");
        ASSERT_EQ(restored_list.get(), (std::vector<int64_t>{k, -k}));
        target->set_current_namespace("");
        ++found_here;
      }
      // No entry of another subtask's key groups came along.
      EXPECT_EQ(static_cast<int64_t>(target->entry_count()), 2 * found_here);
      EXPECT_GT(found_here, 100);
      found += found_here;
    }
    EXPECT_EQ(found, 500);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendTest,
                         ::testing::Values(StateBackendKind::kMemory, StateBackendKind::kRocksDb),
                         [](const auto& info) {
                           return info.param == StateBackendKind::kMemory ? "memory" : "rocksdb";
                         });

TEST(RocksStore, InstancesWithOneStateMemoryBudgetShareItsCache) {
  testing::TempDir dir;
  auto open = [&](const std::string& name, size_t shared) {
    RocksDbOptions options;
    options.directory = dir.file(name);
    options.shared_memory_bytes = shared;
    return std::make_unique<RocksStore>(options);
  };
  auto a = open("a", size_t{64} << 20);
  auto b = open("b", size_t{64} << 20);
  auto own = open("own", 0);
  EXPECT_TRUE(a->shares_memory_with(*b));
  EXPECT_FALSE(a->shares_memory_with(*own));
  EXPECT_EQ(a->block_cache_capacity(), size_t{64} << 20);
  EXPECT_EQ(own->block_cache_capacity(), size_t{32} << 20);
  // The budget outlives no instance: a later one gets a new pool.
  a.reset();
  b.reset();
  auto c = open("c", size_t{64} << 20);
  auto d = open("d", size_t{64} << 20);
  EXPECT_TRUE(c->shares_memory_with(*d));
}

TEST(RocksStore, UnusableDirectoryIsAnExternalError) {
  RocksDbOptions options;
  options.directory = "/proc/sluice-cannot-create-this";
  EXPECT_THROW(RocksStore store(options), ExternalError);
}

TEST(TimerQueue, OrdersDeduplicatesAndRemoves) {
  TimerQueue q;
  EXPECT_TRUE(q.add(30, "k1", ""));
  EXPECT_TRUE(q.add(10, "k2", "n"));
  EXPECT_FALSE(q.add(10, "k2", "n"));
  EXPECT_TRUE(q.add(10, "k1", "n"));
  EXPECT_TRUE(q.add(20, "k1", ""));
  EXPECT_TRUE(q.remove(20, "k1", ""));
  EXPECT_FALSE(q.remove(20, "k1", ""));
  EXPECT_EQ(q.next_timestamp(), 10);
  Timer t;
  std::vector<std::pair<Timestamp, std::string>> fired;
  while (q.pop_due(15, t)) fired.emplace_back(t.timestamp, t.key);
  EXPECT_EQ(fired, (std::vector<std::pair<Timestamp, std::string>>{{10, "k1"}, {10, "k2"}}));
  EXPECT_EQ(q.size(), 1u);
  EXPECT_FALSE(q.pop_due(29, t));
  EXPECT_TRUE(q.pop_due(30, t));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.next_timestamp(), kMaxTimestamp);
}

// Random adds, removes and pops against a plain ordered set of the same
// timers: the queue pops in exactly its order (timestamp, key, namespace),
// and finds, deduplicates and removes what it does. (A reference for any
// other timer structure, such as a heap with a hash index.)
TEST(TimerQueue, MatchesAnOrderedSetUnderRandomOperations) {
  TimerQueue q;
  std::set<std::tuple<Timestamp, std::string, std::string>> reference;
  std::mt19937 random(7);
  Timestamp due = 0;
  for (int step = 0; step < 20000; ++step) {
    Timestamp ts = due + static_cast<Timestamp>(random() % 50);
    std::string key = "k" + std::to_string(random() % 30);
    std::string ns = random() % 2 == 0 ? "" : "w" + std::to_string(random() % 3);
    switch (random() % 4) {
      case 0:
      case 1:
        ASSERT_EQ(q.add(ts, key, ns), reference.emplace(ts, key, ns).second) << "step " << step;
        break;
      case 2:
        if (!reference.empty() && random() % 4 != 0) {  // mostly a timer that exists
          auto it = std::next(reference.begin(), static_cast<long>(random() % reference.size()));
          std::tie(ts, key, ns) = *it;
        }
        ASSERT_EQ(q.remove(ts, key, ns), reference.erase({ts, key, ns}) == 1) << "step " << step;
        break;
      default: {
        due += static_cast<Timestamp>(random() % 5);
        Timer t;
        while (q.pop_due(due, t)) {
          ASSERT_FALSE(reference.empty());
          ASSERT_EQ(std::make_tuple(t.timestamp, t.key, t.ns), *reference.begin())
              << "step " << step;
          reference.erase(reference.begin());
        }
        ASSERT_TRUE(reference.empty() || std::get<0>(*reference.begin()) > due);
      }
    }
    ASSERT_EQ(q.size(), reference.size());
    ASSERT_EQ(q.contains(ts, key, ns), reference.count({ts, key, ns}) == 1);
    ASSERT_EQ(q.next_timestamp(),
              reference.empty() ? kMaxTimestamp : std::get<0>(*reference.begin()));
  }
}

TEST(TimerQueue, SnapshotKeepsOnlyOwnedKeyGroups) {
  TimerQueue q;
  std::string k0 = std::string("\x00\x05", 2) + "a";
  std::string k1 = std::string("\x00\x50", 2) + "b";
  q.add(5, k0, "x");
  q.add(7, k1, "y");
  StateEntries entries;
  q.snapshot_into(entries);
  TimerQueue low;
  low.restore_from(entries, KeyGroupRange{0, 63});
  TimerQueue high;
  high.restore_from(entries, KeyGroupRange{64, 127});
  Timer t;
  ASSERT_TRUE(low.pop_due(kMaxTimestamp, t));
  EXPECT_EQ(t.timestamp, 5);
  EXPECT_EQ(t.key, k0);
  EXPECT_EQ(t.ns, "x");
  EXPECT_TRUE(low.empty());
  ASSERT_TRUE(high.pop_due(kMaxTimestamp, t));
  EXPECT_EQ(t.key, k1);
}

}  // namespace
}  // namespace sluice
