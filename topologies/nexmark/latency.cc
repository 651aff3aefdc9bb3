#include "topologies/nexmark/latency.h"

#include <bit>
#include <chrono>

namespace sluice::nexmark {

int LatencyHistogram::bucket_of(int64_t micros) {
  if (micros < 0) micros = 0;
  if (micros < kLinear) return static_cast<int>(micros);
  auto v = static_cast<uint64_t>(micros);
  int msb = 63 - std::countl_zero(v);  // >= 10
  int sub = static_cast<int>((v >> (msb - 6)) & (kSubBuckets - 1));
  int bucket = kLinear + (msb - 10) * kSubBuckets + sub;
  return bucket < kBuckets ? bucket : kBuckets - 1;
}

int64_t LatencyHistogram::lower_bound_of(int bucket) {
  if (bucket < kLinear) return bucket;
  int msb = (bucket - kLinear) / kSubBuckets + 10;
  int sub = (bucket - kLinear) % kSubBuckets;
  return (int64_t{1} << msb) | (static_cast<int64_t>(sub) << (msb - 6));
}

void LatencyHistogram::record_us(int64_t micros) {
  ++counts_[static_cast<size_t>(bucket_of(micros))];
  ++total_;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  total_ += other.total_;
}

int64_t LatencyHistogram::quantile_us(double q) const {
  if (total_ == 0) return 0;
  auto rank = static_cast<uint64_t>(q * static_cast<double>(total_ - 1));
  uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += counts_[static_cast<size_t>(b)];
    if (seen > rank) return lower_bound_of(b);
  }
  return lower_bound_of(kBuckets - 1);
}

int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace sluice::nexmark
