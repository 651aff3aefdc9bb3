// Timers of a keyed operator, for one time domain: (timestamp, key, namespace)
// triples, ordered by timestamp, without duplicates. The key carries its
// 2-byte key-group prefix, so timers snapshot and rescale like keyed state.
//
// Timers are grouped by timestamp: one bucket per distinct timestamp (a
// window's end, typically, shared by many keys), ordered within by key and
// namespace. A queue made by its backend snapshots with the backend's
// tables: a snapshot freezes the buckets, the first change to a frozen
// bucket copies it (state/snapshot_pins.h), and the encoding happens on the
// checkpoint writer's thread. A queue made on its own copies nothing.
//
// Threading: used only on the owning operator's task thread (frozen buckets
// are read by the snapshot writer). Lifecycle: as its backend's tables.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/btree_map.h>
#include <absl/container/btree_set.h>

#include "runtime/core/time.h"
#include "state/key_groups.h"
#include "state/snapshot.h"
#include "state/snapshot_pins.h"
#include "state/state_table.h"

namespace sluice {

struct Timer {
  Timestamp timestamp;
  std::string key;  // key-group prefix + encoded key
  std::string ns;   // encoded namespace, empty for none
};

class TimerQueue final : public StateTableBase {
 public:
  static constexpr const char* kKind = "timers";
  TimerQueue() = default;
  // A queue of a backend, frozen for snapshots with the backend's `pins`
  // (see the header comment); the scope is not used.
  TimerQueue(const KeyScope& scope, SnapshotPins& pins, const std::string& name);
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;
  ~TimerQueue() override;

  // Adds a timer; returns false when the same timer already exists.
  bool add(Timestamp ts, std::string_view key, std::string_view ns);
  bool contains(Timestamp ts, std::string_view key, std::string_view ns) const;
  // Removes a timer; returns false when there was none.
  bool remove(Timestamp ts, std::string_view key, std::string_view ns);
  // The earliest timestamp, or kMaxTimestamp when empty.
  Timestamp next_timestamp() const {
    return buckets_.empty() ? kMaxTimestamp : buckets_.begin()->first;
  }
  // Removes the earliest timer with timestamp <= `upto` into `out`.
  bool pop_due(Timestamp upto, Timer& out);
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  const std::type_info& type() const override { return typeid(TimerQueue); }
  const char* kind() const override { return kKind; }
  size_t entry_count() const override { return size_; }
  void snapshot_into(StateEntries& out) const override;
  std::unique_ptr<TableCapture> capture() override;
  void restore_from(const StateEntries& in, KeyGroupRange range) override;

  // The timers of one timestamp, with the version they were last changed at.
  struct TimerKey {
    std::string key;
    std::string ns;
  };
  struct TimerKeyLess {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      int c = std::string_view(a.key).compare(std::string_view(b.key));
      if (c != 0) return c < 0;
      return std::string_view(a.ns) < std::string_view(b.ns);
    }
  };
  struct Bucket {
    uint64_t version;
    absl::btree_set<TimerKey, TimerKeyLess> timers;
  };

 private:
  struct KeyView {
    std::string_view key;
    std::string_view ns;
  };
  using Buckets = absl::btree_map<Timestamp, Bucket*>;

  // The bucket at `it`, safe to change: copied first when frozen.
  Bucket* writable(Buckets::iterator it);
  // Erases the bucket at `it`: freed now, or once no snapshot reads it.
  void erase_bucket(Buckets::iterator it);

  SnapshotPins* pins_ = nullptr;
  Buckets buckets_;
  size_t size_ = 0;
  // Buckets replaced or erased while frozen: a snapshot still reads them.
  RetiredEntries<Bucket> retired_;
};

}  // namespace sluice
