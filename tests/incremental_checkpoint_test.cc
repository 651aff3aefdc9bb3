// Incremental RocksDB checkpoints: consecutive checkpoints store an SST
// file once and share it; a checkpoint restores as the same instance at the
// same key groups, range by range at others, and reuses the restored files'
// stored copies in its next checkpoint. The tables' write cache is written
// back before every checkpoint.
#include <filesystem>
#include <map>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "runtime/checkpoint/storage.h"
#include "runtime/core/errors.h"
#include "runtime/core/hash.h"
#include "runtime/state_backend/keyed_state_backend.h"
#include "tests/process_runner.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
constexpr int kMaxP = 128;

class IncrementalCheckpoint : public ::testing::Test {
 protected:
  std::unique_ptr<KeyedStateBackend> make(KeyGroupRange range,
                                          StateBackendKind kind = StateBackendKind::kRocksDb,
                                          size_t write_cache_entries = 16384) {
    StateBackendConfig config;
    config.kind = kind;
    config.rocksdb.directory = dir_.file("instance-" + std::to_string(instances_++));
    config.rocksdb.write_cache_entries = write_cache_entries;
    return std::make_unique<KeyedStateBackend>(config, range, kMaxP);
  }

  static KeyGroup set_key(KeyedStateBackend& b, int64_t k) {
    std::string bytes = encode_to_string("key" + std::to_string(k));
    KeyGroup g = key_group_for_hash(hash_bytes(bytes), kMaxP);
    b.set_current_key(g, bytes);
    return g;
  }

  static void write_keys(KeyedStateBackend& b, int64_t from, int64_t to) {
    auto v = b.value_state<int64_t>("v");
    auto l = b.list_state<int64_t>("l");
    for (int64_t k = from; k < to; ++k) {
      set_key(b, k);
      v.update(k * 3);
      l.add(k);
      l.add(-k);
    }
  }

  // Checkpoint `id` of `b` as the checkpoint writer stores it, read back as
  // a restore reads it. `stored` collects the names of shared files.
  KeyedSnapshot checkpoint(KeyedStateBackend& b, int64_t id, std::set<std::string>& shared) {
    SnapshotFiles files;
    KeyedSnapshot snapshot = b.snapshot(id, files);
    snapshot.complete_deferred();
    storage_.prepare(id);
    for (const FileToStore& file : files.files) {
      storage_.store_file(id, file);
      if (file.shared) shared.insert(file.stored);
    }
    for (const std::string& scratch : files.scratch_dirs) fs::remove_all(scratch);
    KeyedSnapshot read = decode_from_string<KeyedSnapshot>(encode_to_string(snapshot));
    EXPECT_TRUE(read.rocks.has_value());
    read.rocks->checkpoint_dir = storage_.checkpoint_dir(id);
    read.rocks->shared_dir = storage_.shared_dir();
    return read;
  }

  // Checkpoint 1 of a fresh instance holding keys [0, n) (write_keys).
  KeyedSnapshot checkpoint_of_keys(int64_t n, std::set<std::string>& shared) {
    auto b = make({0, kMaxP - 1});
    write_keys(*b, 0, n);
    return checkpoint(*b, 1, shared);
  }

  // Every key of [0, n) in `b`'s key groups has its value and list; returns
  // how many there were, and checks no other key's state came along.
  static int64_t expect_keys(KeyedStateBackend& b, int64_t n) {
    auto v = b.value_state<int64_t>("v");
    auto l = b.list_state<int64_t>("l");
    int64_t found = 0;
    for (int64_t k = 0; k < n; ++k) {
      std::string bytes = encode_to_string("key" + std::to_string(k));
      if (!b.key_group_range().contains(key_group_for_hash(hash_bytes(bytes), kMaxP))) continue;
      set_key(b, k);
      EXPECT_EQ(v.value(), k * 3) << "key " << k;
      EXPECT_EQ(l.get(), (std::vector<int64_t>{k, -k})) << "key " << k;
      ++found;
    }
    EXPECT_EQ(static_cast<int64_t>(b.entry_count()), 2 * found);
    return found;
  }

  testing::TempDir dir_;
  CheckpointStorage storage_{dir_.file("checkpoints"), "job"};
  int instances_ = 0;
};

TEST_F(IncrementalCheckpoint, ConsecutiveCheckpointsStoreEachSstFileOnce) {
  auto b = make({0, kMaxP - 1});
  write_keys(*b, 0, 20000);
  std::set<std::string> first, second;
  checkpoint(*b, 1, first);
  ASSERT_FALSE(first.empty());
  write_keys(*b, 20000, 20100);
  checkpoint(*b, 2, second);
  // The second checkpoint references the first one's SST files and adds
  // only the file flushed since; the shared area holds one copy of each.
  for (const std::string& name : first) EXPECT_TRUE(second.count(name)) << name;
  EXPECT_GT(second.size(), first.size());
  size_t stored = 0;
  for (const auto& entry : fs::directory_iterator(storage_.shared_dir())) {
    EXPECT_TRUE(second.count(entry.path().filename().string())) << entry.path();
    ++stored;
  }
  EXPECT_EQ(stored, second.size());
  // The scratch checkpoints beside the instance are gone.
  for (const auto& entry : fs::directory_iterator(dir_.path())) {
    EXPECT_EQ(entry.path().filename().string().find(".chk-"), std::string::npos) << entry.path();
  }
}

struct OrderV1 {
  int64_t id = 0;
  std::string item;
  SLUICE_FIELDS(id, item)
};
struct OrderV2 {
  int64_t id = 0;
  std::string item;
  int32_t quantity = 1;
  SLUICE_FIELDS(id, item, quantity)
};

// An incremental checkpoint keeps its states in the instance's files, and
// records their kinds and value types beside them: a struct that gained a
// field is rewritten in place, restored at the same key groups or at
// others, and another value type is refused by name.
TEST_F(IncrementalCheckpoint, ValueTypesAreCheckedAndStructsEvolveInTheFiles) {
  std::set<std::string> shared;
  KeyedSnapshot snapshot;
  constexpr int64_t kKeys = 500;
  {
    auto b = make({0, kMaxP - 1});
    auto orders = b->value_state<OrderV1>("orders");
    for (int64_t k = 0; k < kKeys; ++k) {
      set_key(*b, k);
      orders.update(OrderV1{k, "item" + std::to_string(k)});
    }
    snapshot = checkpoint(*b, 1, shared);
  }
  for (KeyGroupRange range : {KeyGroupRange{0, kMaxP - 1}, KeyGroupRange{0, kMaxP / 2}}) {
    auto restored = make(range);
    restored->restore({snapshot});
    auto orders = restored->value_state<OrderV2>("orders");
    int64_t found = 0;
    for (int64_t k = 0; k < kKeys; ++k) {
      std::string bytes = encode_to_string("key" + std::to_string(k));
      if (!range.contains(key_group_for_hash(hash_bytes(bytes), kMaxP))) continue;
      set_key(*restored, k);
      std::optional<OrderV2> order = orders.value();
      ASSERT_TRUE(order.has_value()) << k;
      EXPECT_EQ(order->id, k);
      EXPECT_EQ(order->item, "item" + std::to_string(k));
      EXPECT_EQ(order->quantity, 1);
      ++found;
    }
    EXPECT_GT(found, 0);
    EXPECT_EQ(static_cast<int64_t>(restored->entry_count()), found);
  }
  auto refused = make({0, kMaxP - 1});
  refused->restore({snapshot});
  try {
    refused->value_state<int64_t>("orders");
    ADD_FAILURE() << "a struct restored as a number";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("state 'orders' was checkpointed with values of type "
                                         "S(i64,str) and is now declared with values of type i64"),
              std::string::npos)
        << e.what();
  }
}

// A state restored with an instance's files but not declared in this run
// lives only in its column family: a savepoint (the portable form) reads it
// from there, so it survives into a memory backend.
TEST_F(IncrementalCheckpoint, AStateNotDeclaredAfterARestoreSurvivesASavepoint) {
  std::set<std::string> shared;
  KeyedSnapshot snapshot = checkpoint_of_keys(300, shared);
  auto restored = make({0, kMaxP - 1});
  restored->restore({snapshot});
  KeyedSnapshot savepoint =
      decode_from_string<KeyedSnapshot>(encode_to_string(restored->snapshot()));
  EXPECT_FALSE(savepoint.rocks.has_value());
  auto memory = make({0, kMaxP - 1}, StateBackendKind::kMemory);
  memory->restore({savepoint});
  EXPECT_EQ(expect_keys(*memory, 300), 300);
}

TEST_F(IncrementalCheckpoint, RestoresTheSameInstanceAndReusesItsStoredFiles) {
  std::set<std::string> first, again;
  KeyedSnapshot snapshot = checkpoint_of_keys(5000, first);
  auto restored = make({0, kMaxP - 1});
  restored->restore({snapshot});
  EXPECT_EQ(expect_keys(*restored, 5000), 5000);
  write_keys(*restored, 5000, 5100);
  checkpoint(*restored, 2, again);
  for (const std::string& name : first) EXPECT_TRUE(again.count(name)) << name;
  EXPECT_EQ(expect_keys(*restored, 5100), 5100);
}

TEST_F(IncrementalCheckpoint, RestoresAtAnotherParallelismRangeByRange) {
  std::set<std::string> shared;
  std::vector<KeyedSnapshot> snapshots;
  for (int i = 0; i < 2; ++i) {
    auto b = make(key_group_range_for_subtask(kMaxP, 2, i));
    for (int64_t k = 0; k < 3000; ++k) {
      std::string bytes = encode_to_string("key" + std::to_string(k));
      if (b->key_group_range().contains(key_group_for_hash(hash_bytes(bytes), kMaxP))) {
        write_keys(*b, k, k + 1);
      }
    }
    snapshots.push_back(checkpoint(*b, 1, shared));
  }
  int64_t found = 0;
  for (int i = 0; i < 3; ++i) {
    auto target = make(key_group_range_for_subtask(kMaxP, 3, i));
    target->restore(snapshots);
    int64_t here = expect_keys(*target, 3000);
    EXPECT_GT(here, 500);
    found += here;
  }
  EXPECT_EQ(found, 3000);
}

TEST_F(IncrementalCheckpoint, MissingFileOrMemoryBackendIsAClearError) {
  std::set<std::string> shared;
  auto b = make({0, kMaxP - 1});
  write_keys(*b, 0, 100);
  KeyedSnapshot snapshot = checkpoint(*b, 1, shared);
  EXPECT_THROW(make({0, kMaxP - 1}, StateBackendKind::kMemory)->restore({snapshot}), InputError);
  fs::remove(storage_.shared_dir() + "/" + *shared.begin());
  EXPECT_THROW(make({0, kMaxP - 1})->restore({snapshot}), InputError);
}

TEST_F(IncrementalCheckpoint, FullSnapshotsWhenIncrementalIsOff) {
  StateBackendConfig config;
  config.kind = StateBackendKind::kRocksDb;
  config.incremental_checkpoints = false;
  config.rocksdb.directory = dir_.file("full");
  KeyedStateBackend b(config, {0, kMaxP - 1}, kMaxP);
  write_keys(b, 0, 100);
  SnapshotFiles files;
  KeyedSnapshot snapshot = b.snapshot(1, files);
  snapshot.complete_deferred();
  EXPECT_FALSE(snapshot.rocks.has_value());
  EXPECT_TRUE(files.files.empty());
  auto memory = make({0, kMaxP - 1}, StateBackendKind::kMemory);
  memory->restore({snapshot});
  EXPECT_EQ(expect_keys(*memory, 100), 100);
}

// The RocksDB tables' write cache, once so small that almost every access
// evicts and once large enough for every key: random updates of value, list
// and map state (values and lists also created as new, which writes no
// removal of a key RocksDB never held) over many keys and two namespaces must read back as a plain
// reference model says, and so must the checkpoints taken in between (which
// write the cache back), both from RocksDB's files and in the portable form
// (restored into the memory backend).
class WriteCacheUpdates : public IncrementalCheckpoint,
                          public ::testing::WithParamInterface<size_t> {};

TEST_P(WriteCacheUpdates, MatchAReferenceThroughEvictionsAndCheckpoints) {
  const KeyGroupRange all{0, kMaxP - 1};
  auto set_scope = [](KeyedStateBackend& b, int key, int ns) {
    std::string bytes = encode_to_string(int64_t{key});
    b.set_current_key(key_group_for_hash(hash_bytes(bytes), kMaxP), bytes);
    b.set_current_namespace(ns == 0 ? "" : "w");
  };
  using Scope = std::pair<int, int>;
  std::map<Scope, int64_t> values;
  std::map<Scope, std::vector<int64_t>> lists;
  std::map<Scope, std::map<int64_t, int64_t>> maps;
  auto expect_matches = [&](KeyedStateBackend& b, const std::string& when) {
    auto value = b.value_state<int64_t>("value");
    auto list = b.list_state<int64_t>("list");
    auto map = b.map_state<int64_t, int64_t>("map");
    for (int key = 0; key < 20; ++key) {
      for (int ns = 0; ns < 2; ++ns) {
        set_scope(b, key, ns);
        Scope scope{key, ns};
        auto v = values.find(scope);
        EXPECT_EQ(value.value(), v == values.end() ? std::nullopt : std::optional(v->second))
            << when << " key " << key << " ns " << ns;
        EXPECT_EQ(list.get(), lists[scope]) << when << " key " << key << " ns " << ns;
        EXPECT_EQ(map.entries(), maps[scope]) << when << " key " << key << " ns " << ns;
      }
    }
  };

  auto rocks = make(all, StateBackendKind::kRocksDb, /*write_cache_entries=*/GetParam());
  auto value = rocks->value_state<int64_t>("value");
  auto list = rocks->list_state<int64_t>("list");
  auto map = rocks->map_state<int64_t, int64_t>("map");
  std::mt19937_64 random(42);
  for (int step = 1; step <= 4000; ++step) {
    int key = static_cast<int>(random() % 20);
    int ns = static_cast<int>(random() % 2);
    auto n = static_cast<int64_t>(random() % 100);
    Scope scope{key, ns};
    set_scope(*rocks, key, ns);
    switch (random() % 10) {
      case 0:
        value.update(n), values[scope] = n;
        break;
      case 1:
        value.modify([] { return int64_t{0}; }, [&](int64_t& x) { x += n; });
        values[scope] += n;
        break;
      case 2:
        value.clear(), values.erase(scope);
        break;
      case 3:
        list.add(n), lists[scope].push_back(n);
        break;
      case 4:
        if (n % 4 == 0) {
          list.clear(), lists[scope].clear();
        } else {
          EXPECT_EQ(list.get(), lists[scope]) << "step " << step;
        }
        break;
      case 5:
        map.put(n % 7, n), maps[scope][n % 7] = n;
        break;
      case 6:
        map.remove(n % 7), maps[scope].erase(n % 7);
        break;
      case 7:  // created as new where the reference has nothing
        if (!values.count(scope)) value.create(n), values[scope] = n;
        break;
      case 8:
        if (lists[scope].empty()) list.create({n, n + 1}), lists[scope] = {n, n + 1};
        break;
      default:
        EXPECT_EQ(map.get(n % 7),
                  maps[scope].count(n % 7) ? std::optional(maps[scope][n % 7]) : std::nullopt)
            << "step " << step;
    }
    if (step % 100 != 0) continue;
    std::set<std::string> shared;
    KeyedSnapshot native = checkpoint(*rocks, step, shared);
    if (step % 1000 != 0) continue;
    auto restored_rocks = make(all);
    restored_rocks->restore({native});
    expect_matches(*restored_rocks, "restored from RocksDB files at step " + std::to_string(step));
    auto restored_memory = make(all, StateBackendKind::kMemory);
    restored_memory->restore({rocks->snapshot()});
    expect_matches(*restored_memory, "restored portably at step " + std::to_string(step));
  }
  expect_matches(*rocks, "the live instance");
}

INSTANTIATE_TEST_SUITE_P(CacheSizes, WriteCacheUpdates, ::testing::Values(3, 16, 64));

}  // namespace
}  // namespace sluice
