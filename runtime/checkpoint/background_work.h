// A thread that does a job's slow file-system chores in order, away from
// the threads that must stay responsive: checkpoint retention and the
// removal of aborted checkpoints run here, never on a job manager's RPC
// thread or under its lock (a large checkpoint directory takes long to
// delete, and heartbeats must not wait for it).
//
// Threading: post() and idle() from any thread; chores run one at a time on
// the worker's thread, in the order posted. Lifecycle: construct (starts the
// thread) -> post* -> destroy (runs what is queued, then joins). A chore
// must not throw; one that does is logged and dropped.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace sluice {

class BackgroundWork {
 public:
  explicit BackgroundWork(std::string name);
  ~BackgroundWork();
  BackgroundWork(const BackgroundWork&) = delete;
  BackgroundWork& operator=(const BackgroundWork&) = delete;

  void post(std::function<void()> chore);
  // Waits until every chore posted so far ran; false after `max_wait`.
  bool wait_until_idle(std::chrono::milliseconds max_wait);

 private:
  void loop();

  std::string name_;
  std::mutex mutex_;
  std::condition_variable work_;
  std::condition_variable idle_;
  std::deque<std::function<void()>> queue_;
  bool running_ = false;  // a chore is running now
  bool closing_ = false;
  std::thread thread_;
};

}  // namespace sluice
