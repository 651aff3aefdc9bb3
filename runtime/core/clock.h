// Processing-time clocks. The runtime reads processing time only through a
// Clock, so tests substitute a ManualClock and never sleep.
//
// Threading: SystemClock is stateless. ManualClock may be read from any thread
// and advanced from one test thread; readers see a monotonic value.
#pragma once

#include <atomic>
#include <chrono>

#include "runtime/core/time.h"

namespace sluice {

class Clock {
 public:
  virtual ~Clock() = default;
  // Current processing time in milliseconds since the Unix epoch.
  virtual Timestamp now_ms() const = 0;
};

// The machine's wall clock.
class SystemClock final : public Clock {
 public:
  Timestamp now_ms() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
  static const SystemClock& instance() {
    static const SystemClock clock;
    return clock;
  }
};

// A clock that moves only when told to; for tests.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Timestamp start = 0) : now_(start) {}
  Timestamp now_ms() const override { return now_.load(std::memory_order_acquire); }
  void advance(DurationMs by) { now_.fetch_add(by, std::memory_order_acq_rel); }
  void set(Timestamp to) { now_.store(to, std::memory_order_release); }

 private:
  std::atomic<Timestamp> now_;
};

}  // namespace sluice
