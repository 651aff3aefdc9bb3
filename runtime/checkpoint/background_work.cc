#include "runtime/checkpoint/background_work.h"

#include <pthread.h>

#include <exception>

#include "runtime/core/logging.h"

namespace sluice {

BackgroundWork::BackgroundWork(std::string name)
    : name_(std::move(name)), thread_([this] { loop(); }) {}

BackgroundWork::~BackgroundWork() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  work_.notify_all();
  thread_.join();
}

void BackgroundWork::post(std::function<void()> chore) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(chore));
  }
  work_.notify_one();
}

bool BackgroundWork::wait_until_idle(std::chrono::milliseconds max_wait) {
  std::unique_lock lock(mutex_);
  return idle_.wait_for(lock, max_wait, [this] { return queue_.empty() && !running_; });
}

void BackgroundWork::loop() {
  pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
  std::unique_lock lock(mutex_);
  while (true) {
    work_.wait(lock, [this] { return closing_ || !queue_.empty(); });
    if (queue_.empty()) return;
    std::function<void()> chore = std::move(queue_.front());
    queue_.pop_front();
    running_ = true;
    lock.unlock();
    try {
      chore();
    } catch (const std::exception& e) {
      log::runtime()->warn("{}: {}", name_, e.what());
    }
    lock.lock();
    running_ = false;
    if (queue_.empty()) idle_.notify_all();
  }
}

}  // namespace sluice
