// Watermark alignment (`--watermark-alignment D`; Flink's FLIP-182): the
// source subtasks of a job form one group, and a subtask whose watermark is
// more than D ahead of the group's minimum stops reading until the minimum
// catches up. Parallel readers of time-ordered input (byte ranges of one
// file, Kafka partitions at different lags) then move through event time
// together, so windows fire as they go instead of waiting in state for the
// slowest reader.
//
// Members: every source subtask that stamps event time. Each reports its
// current watermark, or that it holds nothing back (idle, or finished).
// The minimum is over the members that hold something back, and over the
// other task managers' minimum on a cluster (set_remote_minimum(), from
// the job manager); with none, nothing is paused. A member that has not
// emitted a watermark yet holds the others at the start of event time plus
// D, as a split does in the watermark itself.
//
// A member never waits on the group: it asks max_allowed() before each
// read and, when ahead, marks itself paused and waits for its task's
// wakeup, which any report that may raise the minimum signals. The member
// holding the minimum is never ahead of it, so the group always moves.
//
// Threading: add_member() before the tasks start; report(), pause(),
// resume() and max_allowed() from the members' task threads, lock-free;
// set_remote_minimum() and local_minimum() from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <deque>
#include <functional>
#include <optional>

#include "runtime/core/time.h"

namespace sluice {

class WatermarkAlignmentGroup {
 public:
  explicit WatermarkAlignmentGroup(DurationMs max_drift) : max_drift_(max_drift) {}
  WatermarkAlignmentGroup(const WatermarkAlignmentGroup&) = delete;
  WatermarkAlignmentGroup& operator=(const WatermarkAlignmentGroup&) = delete;

  DurationMs max_drift() const { return max_drift_; }
  // A new member, woken by calling `wake` (its task's wakeup) when it may
  // read again; returns its number.
  size_t add_member(std::function<void()> wake);
  // Member `member`'s watermark now; nullopt: it holds nothing back.
  void report(size_t member, std::optional<Timestamp> watermark);
  // The largest watermark a member may have and still read: the group's
  // minimum plus the drift (kMaxTimestamp when nothing holds the group).
  Timestamp max_allowed() const;
  // The member is ahead and waits for its wakeup; resume() when it reads
  // again.
  void pause(size_t member);
  void resume(size_t member);
  // The minimum of the members here, for the job manager; nullopt when none
  // holds anything back.
  std::optional<Timestamp> local_minimum() const;
  // The other task managers' minimum; nullopt: they hold nothing back.
  void set_remote_minimum(std::optional<Timestamp> minimum);

 private:
  // kMaxTimestamp stands for "holds nothing back".
  struct Member {
    std::atomic<Timestamp> watermark{kMinTimestamp};
    std::atomic<bool> paused{false};
    std::function<void()> wake;
  };
  void wake_paused();

  DurationMs max_drift_;
  std::deque<Member> members_;
  std::atomic<Timestamp> remote_minimum_{kMaxTimestamp};
  std::atomic<int> paused_count_{0};
};

}  // namespace sluice
