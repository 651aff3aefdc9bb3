// Stable 64-bit hashing of bytes. hash_bytes is XXH3 (xxHash, inlined): key
// groups are derived from it, so it never changes between versions (test
// vectors in tests/core_test.cc pin it), and it is the checksum of
// checkpoint files. legacy_hash_bytes is the hash of checkpoint format 1:
// a job restored from such a checkpoint keeps assigning key groups with it
// (KeyHashing::kLegacy), since its state sits in the key groups it chose.
// Pure functions.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace sluice {

inline uint64_t hash_bytes(std::string_view bytes) {
  return XXH3_64bits(bytes.data(), bytes.size());
}

// Which hash picks a job's key groups; recorded in every checkpoint.
enum class KeyHashing : uint8_t {
  kLegacy = 1,  // legacy_hash_bytes: jobs that began before checkpoint format 2
  kXxh3 = 2,    // hash_bytes
};

// Final mixing step (splitmix64's): spreads every input bit over the word.
constexpr uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

// The hash of checkpoint format 1: 8-byte words (loaded in the machine's
// byte order) folded with multiply-rotate, then mixed. Kept only to read
// what that format wrote; never for anything new.
inline uint64_t legacy_hash_bytes(std::string_view bytes) {
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
