#include "runtime/task/job_control.h"

namespace sluice {

void JobControl::fail(ErrorKind kind, const std::string& message) {
  {
    std::lock_guard lock(mutex_);
    if (!failure_) failure_ = JobFailure{kind, message};
  }
  cancel();
}

void JobControl::cancel() {
  cancelled_.store(true, std::memory_order_release);
  for (ChannelBase* c : channels_) c->cancel();
  for (TaskWakeup* w : wakeups_) w->notify();
}

std::optional<JobFailure> JobControl::failure() const {
  std::lock_guard lock(mutex_);
  return failure_;
}

void JobControl::task_done() {
  bool all_done = false;
  {
    std::lock_guard lock(mutex_);
    if (remaining_ > 0) --remaining_;
    all_done = remaining_ == 0;
    if (all_done) done_cv_.notify_all();
  }
  if (all_done && all_done_listener_) all_done_listener_();
}

bool JobControl::wait_all_done(std::chrono::milliseconds max_wait) {
  std::unique_lock lock(mutex_);
  return done_cv_.wait_for(lock, max_wait, [this] { return remaining_ == 0; });
}

}  // namespace sluice
