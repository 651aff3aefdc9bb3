#include "connectors/throttle.h"

#include <algorithm>
#include <cmath>

namespace sluice {
namespace {

// Absorbs rounding in token arithmetic, so that 100 ms at 10 records/s
// yields exactly one record.
constexpr double kEpsilon = 1e-9;

}  // namespace

Throttle::Throttle(double records_per_second) {
  if (!(records_per_second > 0)) return;
  rate_per_ms_ = records_per_second / 1000.0;
  capacity_ = std::max(1.0, rate_per_ms_ * kBurstMs);
  tokens_ = capacity_;
}

void Throttle::refill(Timestamp now) {
  if (last_refill_ != kMinTimestamp && now > last_refill_) {
    double elapsed = static_cast<double>(now - last_refill_);
    tokens_ = std::min(capacity_, tokens_ + elapsed * rate_per_ms_);
  }
  if (last_refill_ == kMinTimestamp || now > last_refill_) last_refill_ = now;
}

size_t Throttle::allowance(size_t wanted, Timestamp now) {
  if (!throttled()) return wanted;
  refill(now);
  double whole = std::floor(tokens_ + kEpsilon);
  return whole >= static_cast<double>(wanted) ? wanted : static_cast<size_t>(whole);
}

void Throttle::consume(size_t n) {
  if (throttled()) tokens_ -= static_cast<double>(n);
}

Timestamp Throttle::next_allowed(Timestamp now) const {
  if (!throttled() || tokens_ + kEpsilon >= 1) return now;
  auto wait = static_cast<DurationMs>(std::ceil((1.0 - tokens_) / rate_per_ms_ - kEpsilon));
  return now + std::max<DurationMs>(wait, 1);
}

}  // namespace sluice
