// Latency recording for the benchmark harness: a log-bucketed histogram of
// microseconds (exact below 1024 us, then 64 buckets per power of two, so
// within 1.6%), kept per sink writer and merged into a shared recorder.
//
// Threading: a LatencyHistogram belongs to one thread; LatencyRecorder::merge
// may be called from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>

namespace sluice::nexmark {

class LatencyHistogram {
 public:
  void record_us(int64_t micros);
  void merge(const LatencyHistogram& other);
  uint64_t count() const { return total_; }
  // The value (us) at quantile q in [0, 1]; 0 when empty.
  int64_t quantile_us(double q) const;

 private:
  static constexpr int kLinear = 1024;
  static constexpr int kSubBuckets = 64;
  static constexpr int kBuckets = kLinear + 54 * kSubBuckets;
  static int bucket_of(int64_t micros);
  static int64_t lower_bound_of(int bucket);

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t total_ = 0;
};

class LatencyRecorder {
 public:
  void merge(const LatencyHistogram& h) {
    std::lock_guard lock(mutex_);
    histogram_.merge(h);
  }
  LatencyHistogram histogram() const {
    std::lock_guard lock(mutex_);
    return histogram_;
  }

 private:
  mutable std::mutex mutex_;
  LatencyHistogram histogram_;
};

// Steady-clock nanoseconds: the clock of ingestion and emission times.
int64_t steady_now_ns();

}  // namespace sluice::nexmark
