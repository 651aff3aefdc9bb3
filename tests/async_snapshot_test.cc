// Snapshots of memory state encoded off the task thread: what a snapshot
// writes is the state at its barrier, however the task changes the state
// while (or before) the writer encodes it, for value, list and map tables
// and timers, with snapshots overlapping, and with the writer on its own
// thread. Each snapshot is compared with a plain model of the state copied
// at the barrier.
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>

#include <gtest/gtest.h>

#include "runtime/core/errors.h"
#include "runtime/state_backend/keyed_state_backend.h"

namespace sluice {
namespace {

constexpr int kMaxP = 128;
constexpr const char* kTimers = "timers";

// Everything the backend holds, as plain values: (table, key, namespace) ->
// encoded value, the form a snapshot writes.
using Model = std::map<std::tuple<std::string, std::string, std::string>, std::string>;

// Random writes to a memory backend, mirrored in a model of what they
// should leave.
class RandomWrites {
 public:
  explicit RandomWrites(KeyedStateBackend& backend)
      : backend_(backend),
        values_(backend.value_state<int64_t>("v")),
        lists_(backend.list_state<int64_t>("l")),
        maps_(backend.map_state<int64_t, std::string>("m")),
        timers_(backend.timer_queue(kTimers)) {}

  const Model& model() const { return model_; }

  void run(int steps, std::mt19937& random) {
    for (int i = 0; i < steps; ++i) step(random);
  }

 private:
  void step(std::mt19937& random) {
    std::string key = encode_to_string("key" + std::to_string(random() % 200));
    std::string ns = random() % 3 == 0 ? std::string() : "w" + std::to_string(random() % 3);
    backend_.set_current_key(key_group_for_hash(hash_bytes(key), kMaxP), key);
    backend_.set_current_namespace(ns);
    std::string full_key(backend_.current_key());
    int64_t n = static_cast<int64_t>(random() % 1000);
    switch (random() % 8) {
      case 0:
        values_.update(n);
        model_[{"v", full_key, ns}] = encode_to_string(n);
        break;
      case 1:
        values_.modify([] { return int64_t{0}; }, [&](int64_t& v) { v += n; });
        model_[{"v", full_key, ns}] = encode_to_string(*values_.get());
        break;
      case 2:
        values_.clear();
        model_.erase({"v", full_key, ns});
        break;
      case 3: {
        lists_.add(n);
        model_[{"l", full_key, ns}] = encode_to_string(lists_.get());
        break;
      }
      case 4:
        lists_.clear();
        model_.erase({"l", full_key, ns});
        break;
      case 5: {
        if (random() % 2 == 0) {
          maps_.put(n % 5, std::to_string(n));
        } else {
          maps_.remove(n % 5);
        }
        std::map<int64_t, std::string> all = maps_.entries();
        if (all.empty()) {
          model_.erase({"m", full_key, ns});
        } else {
          model_[{"m", full_key, ns}] = encode_to_string(all);
        }
        break;
      }
      case 6:
        timers_.add(n % 20, full_key, ns);
        model_[{kTimers, full_key, ns + "@" + std::to_string(n % 20)}] = "";
        break;
      default: {
        Timer timer;
        if (random() % 2 == 0 && timers_.pop_due(n % 20, timer)) {
          model_.erase({kTimers, timer.key, timer.ns + "@" + std::to_string(timer.timestamp)});
        } else if (timers_.remove(n % 20, full_key, ns)) {
          model_.erase({kTimers, full_key, ns + "@" + std::to_string(n % 20)});
        }
      }
    }
  }

  KeyedStateBackend& backend_;
  ValueState<int64_t> values_;
  ListState<int64_t> lists_;
  MapState<int64_t, std::string> maps_;
  TimerQueue& timers_;
  Model model_;
};

// A snapshot's entries in the form RandomWrites keeps (a timer's
// timestamp goes with its namespace: one key and namespace can have several).
Model model_of(const KeyedSnapshot& snapshot) {
  Model model;
  for (const StateEntries& state : snapshot.states) {
    for (const StateEntry& e : state.entries) {
      auto where = std::make_tuple(state.name, e.key, e.ns);
      std::string value = e.value;
      if (state.name == kTimers) {
        std::get<2>(where) += "@" + std::to_string(decode_from_string<Timestamp>(e.value));
        value.clear();
      }
      EXPECT_TRUE(model.emplace(where, value).second) << "entry twice in " << state.name;
    }
  }
  return model;
}

std::unique_ptr<KeyedStateBackend> memory_backend() {
  return std::make_unique<KeyedStateBackend>(StateBackendKind::kMemory, KeyGroupRange{0, kMaxP - 1},
                                             kMaxP);
}

KeyedSnapshot snapshot_at_barrier(KeyedStateBackend& backend, int64_t id) {
  SnapshotFiles files;
  KeyedSnapshot snapshot = backend.snapshot(id, files);
  EXPECT_NE(snapshot.deferred, nullptr) << "memory state is encoded by the writer";
  return snapshot;
}

// Rounds of writes, a snapshot, more writes while the snapshot is encoded
// (here, or on a thread of its own as the checkpoint writer does), and the
// snapshot compared with the state at its barrier.
void check_rounds(unsigned seed, int rounds, int writes_per_half, bool writer_thread) {
  auto backend = memory_backend();
  RandomWrites writes(*backend);
  std::mt19937 random(seed);
  for (int round = 0; round < rounds; ++round) {
    writes.run(writes_per_half, random);
    Model at_barrier = writes.model();
    KeyedSnapshot snapshot = snapshot_at_barrier(*backend, round + 1);
    if (writer_thread) {
      std::thread writer([&] { snapshot.complete_deferred(); });
      writes.run(writes_per_half, random);
      writer.join();
    } else {
      writes.run(writes_per_half, random);
      snapshot.complete_deferred();
    }
    ASSERT_EQ(model_of(snapshot), at_barrier) << "round " << round;
  }
  // And the live state went on as written, through every copy.
  ASSERT_EQ(model_of(backend->snapshot()), writes.model());
}

TEST(AsyncSnapshot, EncodesTheStateAtTheBarrierWhateverIsWrittenAfter) {
  check_rounds(11, 20, 500, /*writer_thread=*/false);
}

TEST(AsyncSnapshot, OverlappingSnapshotsEachKeepTheirBarrier) {
  auto backend = memory_backend();
  RandomWrites writes(*backend);
  std::mt19937 random(12);
  writes.run(2000, random);
  Model first_model = writes.model();
  KeyedSnapshot first = snapshot_at_barrier(*backend, 1);
  writes.run(1000, random);
  Model second_model = writes.model();
  KeyedSnapshot second = snapshot_at_barrier(*backend, 2);
  writes.run(1000, random);
  second.complete_deferred();  // the later one first
  writes.run(1000, random);
  first.complete_deferred();
  EXPECT_EQ(model_of(second), second_model);
  EXPECT_EQ(model_of(first), first_model);
  EXPECT_EQ(model_of(backend->snapshot()), writes.model());
}

TEST(AsyncSnapshot, AnAbandonedSnapshotReleasesItsPins) {
  auto backend = memory_backend();
  RandomWrites writes(*backend);
  std::mt19937 random(13);
  writes.run(2000, random);
  auto* values = dynamic_cast<MemoryValueTable<int64_t>*>(backend->value_table<int64_t>("v"));
  ASSERT_NE(values, nullptr);
  {
    KeyedSnapshot dropped = snapshot_at_barrier(*backend, 1);
    writes.run(500, random);
    EXPECT_GT(values->retired_count(), 0u) << "writes under the snapshot copy nodes";
  }  // never encoded, as when a checkpoint aborts
  writes.run(2000, random);
  EXPECT_EQ(values->retired_count(), 0u) << "the dropped snapshot's copies are freed";
  Model at_barrier = writes.model();
  KeyedSnapshot kept = snapshot_at_barrier(*backend, 2);
  writes.run(500, random);
  kept.complete_deferred();
  EXPECT_EQ(model_of(kept), at_barrier);
}

// The writer encodes on its own thread while the task thread keeps
// writing, as in a job (run it under ThreadSanitizer to check the sharing).
TEST(AsyncSnapshot, WriterThreadEncodesWhileTheTaskWrites) {
  check_rounds(14, 10, 3000, /*writer_thread=*/true);
}

// Snapshots that overlap without end (the next pins before the last is
// written, as back-to-back micro-batches can): nodes replaced under a
// snapshot are still freed once the snapshots that could read them are
// done, not only when nothing is pinned.
TEST(AsyncSnapshot, ReplacedNodesAreFreedWhileSnapshotsKeepOverlapping) {
  auto backend = memory_backend();
  RandomWrites writes(*backend);
  auto* values = dynamic_cast<MemoryValueTable<int64_t>*>(backend->value_table<int64_t>("v"));
  ASSERT_NE(values, nullptr);
  std::mt19937 random(17);
  writes.run(2000, random);
  Model previous_model = writes.model();
  KeyedSnapshot previous = snapshot_at_barrier(*backend, 1);
  size_t most_retired = 0;
  for (int round = 2; round <= 60; ++round) {
    writes.run(400, random);
    Model next_model = writes.model();
    KeyedSnapshot next = snapshot_at_barrier(*backend, round);  // `previous` still live
    writes.run(400, random);
    most_retired = std::max(most_retired, values->retired_count());
    previous.complete_deferred();  // `next` still live
    ASSERT_EQ(model_of(previous), previous_model) << "round " << round;
    previous = std::move(next);
    previous_model = std::move(next_model);
  }
  // At most about two rounds' copies wait at any time; kept until nothing
  // is pinned, they would be every copy of all 60 rounds.
  EXPECT_LT(most_retired, 400u);
}

// The writer encodes deferred states straight into the stored form: the
// bytes are those of the completed snapshot, and they read back as the
// state at the barrier.
TEST(AsyncSnapshot, StreamedEncodingIsTheStoredFormat) {
  auto backend = memory_backend();
  RandomWrites writes(*backend);
  std::mt19937 random(16);
  writes.run(3000, random);
  Model at_barrier = writes.model();
  KeyedSnapshot streamed = snapshot_at_barrier(*backend, 1);
  KeyedSnapshot completed = snapshot_at_barrier(*backend, 2);
  writes.run(3000, random);
  std::string bytes = encode_keyed_snapshot(streamed);
  EXPECT_EQ(streamed.deferred, nullptr);
  completed.complete_deferred();
  EXPECT_EQ(bytes, encode_versioned(KeyedSnapshot::kFormat, completed));
  EXPECT_EQ(model_of(decode_versioned<KeyedSnapshot>(KeyedSnapshot::kFormat, bytes)), at_barrier);
}

TEST(AsyncSnapshot, ABackendClosedFirstFailsTheSnapshotCleanly) {
  auto backend = memory_backend();
  RandomWrites writes(*backend);
  std::mt19937 random(15);
  writes.run(1000, random);
  KeyedSnapshot snapshot = snapshot_at_barrier(*backend, 1);
  writes.run(1000, random);
  backend.reset();
  try {
    snapshot.complete_deferred();
    FAIL() << "a snapshot of a closed backend completed";
  } catch (const SluiceError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCancelled);
    EXPECT_NE(std::string(e.what()).find("closed before"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sluice
