// Key groups: the unit of keyed-state partitioning and rescaling.
//
// A key's hash picks a key group in [0, max_parallelism); each of the p
// subtasks of an operator owns one contiguous range of key groups. Restoring
// at another parallelism hands out the same key groups in new ranges, so
// rescaling is a restore. Pure functions.
#pragma once

#include <cstdint>
#include <string>

namespace sluice {

inline constexpr int kDefaultMaxParallelism = 128;
inline constexpr int kMaxMaxParallelism = 32768;

// A key group index, in [0, max_parallelism).
struct KeyGroup {
  uint16_t value = 0;
  friend bool operator==(KeyGroup, KeyGroup) = default;
};

// An inclusive range [first, last] of key groups; empty when last < first.
struct KeyGroupRange {
  int first = 0;
  int last = -1;

  bool contains(KeyGroup g) const { return g.value >= first && g.value <= last; }
  int size() const { return last >= first ? last - first + 1 : 0; }
  friend bool operator==(const KeyGroupRange&, const KeyGroupRange&) = default;
};

// The key group of a key whose stable hash is `key_hash`.
inline KeyGroup key_group_for_hash(uint64_t key_hash, int max_parallelism) {
  return KeyGroup{static_cast<uint16_t>(key_hash % static_cast<uint64_t>(max_parallelism))};
}

// The key groups owned by subtask `index` of `parallelism`.
inline KeyGroupRange key_group_range_for_subtask(int max_parallelism, int parallelism, int index) {
  int first = (index * max_parallelism + parallelism - 1) / parallelism;
  int last = ((index + 1) * max_parallelism - 1) / parallelism;
  return KeyGroupRange{first, last};
}

// The subtask of `parallelism` that owns key group `group`; the inverse of
// key_group_range_for_subtask.
inline int subtask_for_key_group(KeyGroup group, int max_parallelism, int parallelism) {
  return static_cast<int>(group.value) * parallelism / max_parallelism;
}

// Two bytes, big-endian: the prefix of every stored keyed-state key, so that a
// key group is a contiguous, ordered range in a sorted store.
inline void append_key_group_prefix(std::string& out, KeyGroup group) {
  out.push_back(static_cast<char>(group.value >> 8));
  out.push_back(static_cast<char>(group.value & 0xff));
}

inline KeyGroup read_key_group_prefix(const std::string& bytes) {
  return KeyGroup{static_cast<uint16_t>((static_cast<uint8_t>(bytes[0]) << 8) |
                                        static_cast<uint8_t>(bytes[1]))};
}

}  // namespace sluice
