// Rates of a task's counters (runtime/task/task_probe.h), from two readings
// taken some time apart: records in and out per second, and how the task's
// time divided into idle, backpressured and busy milliseconds per second.
// The task measures idle and backpressured time where it waits; busy is
// the rest of the second (Flink's busyTimeMsPerSecond), so no clock is
// read per record. The job manager keeps one tracker per task from the
// task managers' heartbeats; a task manager keeps its own for its tasks.
//
// Threading: a tracker is a plain value; its owner locks it.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>

#include "runtime/core/time.h"

namespace sluice {

struct TaskReading {
  uint64_t records_in = 0;
  uint64_t records_out = 0;
  uint64_t idle_us = 0;
  uint64_t backpressured_us = 0;
  std::optional<Timestamp> input_watermark;
};

struct TaskRates {  // per second
  double records_in = 0;
  double records_out = 0;
  double busy_ms = 0;
  double idle_ms = 0;
  double backpressured_ms = 0;
};

class TaskRateTracker {
 public:
  using Clock = std::chrono::steady_clock;

  void update(const TaskReading& reading, Clock::time_point at) {
    if (readings_ > 0 && at > at_) {
      double seconds = std::chrono::duration<double>(at - at_).count();
      auto per_second = [seconds](uint64_t before, uint64_t after) {
        return after >= before ? static_cast<double>(after - before) / seconds : 0.0;
      };
      rates_.records_in = per_second(last_.records_in, reading.records_in);
      rates_.records_out = per_second(last_.records_out, reading.records_out);
      rates_.idle_ms = std::min(1000.0, per_second(last_.idle_us, reading.idle_us) / 1000.0);
      rates_.backpressured_ms =
          std::min(1000.0 - rates_.idle_ms,
                   per_second(last_.backpressured_us, reading.backpressured_us) / 1000.0);
      rates_.busy_ms = std::max(0.0, 1000.0 - rates_.idle_ms - rates_.backpressured_ms);
    }
    last_ = reading;
    at_ = at;
    ++readings_;
  }

  const TaskReading& last() const { return last_; }
  // Zero until two readings arrived.
  const TaskRates& rates() const { return rates_; }
  Clock::time_point last_update() const { return at_; }

 private:
  TaskReading last_;
  TaskRates rates_;
  Clock::time_point at_{};
  uint64_t readings_ = 0;
};

}  // namespace sluice
