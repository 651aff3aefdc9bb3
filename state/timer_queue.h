// Timers of a keyed operator, for one time domain: (timestamp, key, namespace)
// triples, ordered by timestamp, without duplicates. The key carries its
// 2-byte key-group prefix, so timers snapshot and rescale like keyed state.
//
// Threading: used only on the owning operator's task thread.
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "runtime/core/time.h"
#include "state/key_groups.h"
#include "state/snapshot.h"

namespace sluice {

struct Timer {
  Timestamp timestamp;
  std::string key;  // key-group prefix + encoded key
  std::string ns;   // encoded namespace, empty for none
};

class TimerQueue {
 public:
  // Adds a timer; returns false when the same timer already exists.
  bool add(Timestamp ts, std::string_view key, std::string_view ns);
  bool contains(Timestamp ts, std::string_view key, std::string_view ns) const {
    return timers_.find(View{ts, key, ns}) != timers_.end();
  }
  // Removes a timer; returns false when there was none.
  bool remove(Timestamp ts, std::string_view key, std::string_view ns);
  // The earliest timestamp, or kMaxTimestamp when empty.
  Timestamp next_timestamp() const {
    return timers_.empty() ? kMaxTimestamp : timers_.begin()->timestamp;
  }
  // Removes the earliest timer with timestamp <= `upto` into `out`.
  bool pop_due(Timestamp upto, Timer& out);
  size_t size() const { return timers_.size(); }
  bool empty() const { return timers_.empty(); }

  void snapshot_into(StateEntries& out) const;
  void restore_from(const StateEntries& in, KeyGroupRange range);

 private:
  struct View {
    Timestamp timestamp;
    std::string_view key;
    std::string_view ns;
  };
  struct Less {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      if (a.timestamp != b.timestamp) return a.timestamp < b.timestamp;
      int c = std::string_view(a.key).compare(b.key);
      if (c != 0) return c < 0;
      return std::string_view(a.ns) < std::string_view(b.ns);
    }
  };
  std::set<Timer, Less> timers_;
};

}  // namespace sluice
