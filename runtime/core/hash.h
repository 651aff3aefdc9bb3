// Stable 64-bit hashing of bytes and integers. Key groups are derived from
// these values, so they must never change between versions: a checkpoint's
// key groups would no longer match the keys. Pure functions.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace sluice {

// Final mixing step: spreads every input bit over the whole word.
constexpr uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

// Hash of a byte string: 8-byte words folded with multiply-rotate, then mixed.
inline uint64_t hash_bytes(std::string_view bytes) {
  constexpr uint64_t kMul = 0x9e3779b97f4a7c15ULL;
  uint64_t h = 0x6a09e667f3bcc909ULL ^ (bytes.size() * kMul);
  const char* p = bytes.data();
  size_t n = bytes.size();
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    h = (h ^ mix64(word)) * kMul;
    h = (h << 29) | (h >> 35);
    p += 8;
    n -= 8;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, p, n);
  h ^= mix64(tail ^ (static_cast<uint64_t>(n) << 56));
  return mix64(h);
}

}  // namespace sluice
