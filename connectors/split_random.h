// SplitRandom: a small deterministic pseudo-random generator (splitmix64) for
// data generators. It is seeded from (seed, record index), so the random
// choices behind record i are the same whichever subtask makes it, at any
// parallelism and in any order. Not for cryptography.
//
// Threading: a plain value; one per record being generated.
#pragma once

#include <cstdint>

#include "runtime/core/hash.h"

namespace sluice {

class SplitRandom {
 public:
  SplitRandom(uint64_t seed, uint64_t index) : state_(mix64(mix64(seed) + index)) {}

  // 64 uniformly distributed bits.
  uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, bound); 0 when bound is 0. Unbiased (Lemire's method).
  uint64_t below(uint64_t bound) {
    if (bound == 0) return 0;
    unsigned __int128 product = static_cast<unsigned __int128>(next()) * bound;
    auto low = static_cast<uint64_t>(product);
    if (low < bound) {
      const uint64_t threshold = (0 - bound) % bound;
      while (low < threshold) {
        product = static_cast<unsigned __int128>(next()) * bound;
        low = static_cast<uint64_t>(product);
      }
    }
    return static_cast<uint64_t>(product >> 64);
  }

  // Uniform in [lo, hi]; lo when hi < lo.
  int64_t between(int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
    uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
    uint64_t offset = span == UINT64_MAX ? next() : below(span + 1);
    return static_cast<int64_t>(static_cast<uint64_t>(lo) + offset);
  }

  // Uniform in [0, 1).
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // True with probability p.
  bool chance(double p) { return unit() < p; }

 private:
  uint64_t state_;
};

}  // namespace sluice
