#include "state/timer_queue.h"

#include "runtime/core/codec.h"

namespace sluice {

bool TimerQueue::add(Timestamp ts, std::string_view key, std::string_view ns) {
  View view{ts, key, ns};
  if (timers_.find(view) != timers_.end()) return false;
  timers_.insert(Timer{ts, std::string(key), std::string(ns)});
  return true;
}

bool TimerQueue::remove(Timestamp ts, std::string_view key, std::string_view ns) {
  auto it = timers_.find(View{ts, key, ns});
  if (it == timers_.end()) return false;
  timers_.erase(it);
  return true;
}

bool TimerQueue::pop_due(Timestamp upto, Timer& out) {
  if (timers_.empty() || timers_.begin()->timestamp > upto) return false;
  auto node = timers_.extract(timers_.begin());
  out = std::move(node.value());
  return true;
}

void TimerQueue::snapshot_into(StateEntries& out) const {
  out.kind = "timers";
  for (const Timer& t : timers_) {
    out.entries.push_back(StateEntry{t.key, t.ns, encode_to_string(t.timestamp)});
  }
}

void TimerQueue::restore_from(const StateEntries& in, KeyGroupRange range) {
  for (const StateEntry& e : in.entries) {
    if (e.key.size() < 2 || !range.contains(read_key_group_prefix(e.key))) continue;
    add(decode_from_string<Timestamp>(e.value), e.key, e.ns);
  }
}

}  // namespace sluice
