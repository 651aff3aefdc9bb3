// Shared fate of a running job's tasks: the first failure wins, is recorded,
// and cancels everything else (blocked producers and waiting tasks wake up
// and leave). Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "runtime/core/errors.h"
#include "runtime/network/channel.h"

namespace sluice {

struct JobFailure {
  ErrorKind kind;
  std::string message;
};

class JobControl {
 public:
  void add_channel(ChannelBase* channel) { channels_.push_back(channel); }
  void add_wakeup(TaskWakeup* wakeup) { wakeups_.push_back(wakeup); }

  // Records the first failure and cancels the job.
  void fail(ErrorKind kind, const std::string& message);
  // Stops every task; blocked producers throw CancelledError.
  void cancel();
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }
  std::optional<JobFailure> failure() const;

  // Task threads report their end; wait_all_done returns once every task did
  // (or after `max_wait`, returning false).
  void task_done();
  // Called (on the last task's thread) once every task is done.
  void on_all_done(std::function<void()> listener) { all_done_listener_ = std::move(listener); }
  void expect_tasks(size_t n) { remaining_ = n; }
  bool wait_all_done(std::chrono::milliseconds max_wait);

 private:
  std::vector<ChannelBase*> channels_;
  std::vector<TaskWakeup*> wakeups_;
  std::atomic<bool> cancelled_{false};
  mutable std::mutex mutex_;
  std::condition_variable done_cv_;
  size_t remaining_ = 0;
  std::optional<JobFailure> failure_;
  std::function<void()> all_done_listener_;  // set before the tasks start
};

}  // namespace sluice
