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
    out.entries.emplace_back(t.key, encode_to_string(std::make_pair(t.timestamp, t.ns)));
  }
}

void TimerQueue::restore_from(const StateEntries& in, KeyGroupRange range) {
  for (const auto& [key, bytes] : in.entries) {
    if (key.size() < 2 || !range.contains(read_key_group_prefix(key))) continue;
    auto [ts, ns] = decode_from_string<std::pair<Timestamp, std::string>>(bytes);
    add(ts, key, ns);
  }
}

}  // namespace sluice
