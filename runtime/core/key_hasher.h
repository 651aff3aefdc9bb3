// KeyHasher: a key's stable hashes, the same in every process and on every
// run, from its codec encoding (runtime/core/codec.h). hash() is the key's
// hash_bytes (runtime/core/hash.h), which state tables look keys up by;
// group_hash() picks its key group, with the job's KeyHashing. Hash writers
// route records by the group hash and keyed operators find their state's
// key group with it, so both always agree.
//
// Threading: one per thread; it keeps the encoding of the last key.
#pragma once

#include <cstdint>
#include <string>

#include "runtime/core/codec.h"
#include "runtime/core/hash.h"

namespace sluice {

template <class K>
class KeyHasher {
 public:
  explicit KeyHasher(KeyHashing hashing = KeyHashing::kXxh3) : hashing_(hashing) {}

  // Encodes `key` into bytes() and returns its hash.
  uint64_t hash(const K& key) {
    bytes_.clear();
    ByteWriter w(bytes_);
    Codec<K>::encode(key, w);
    return hash_bytes(bytes_);
  }
  // The hash that picks the key group of the key hash() saw last (`hash`
  // is what hash() returned).
  uint64_t group_hash(uint64_t hash) const {
    return hashing_ == KeyHashing::kXxh3 ? hash : legacy_hash_bytes(bytes_);
  }
  const std::string& bytes() const { return bytes_; }

 private:
  KeyHashing hashing_;
  std::string bytes_;
};

}  // namespace sluice
