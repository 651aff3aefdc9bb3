// KeyHasher: a key's stable hash, the same in every process and on every
// run, from its codec encoding (runtime/core/codec.h) and hash_bytes
// (runtime/core/hash.h). Hash writers route records by it and keyed
// operators find their state's key group with it, so both always agree.
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
  // Encodes `key` into bytes() and returns its stable hash.
  uint64_t hash(const K& key) {
    bytes_.clear();
    ByteWriter w(bytes_);
    Codec<K>::encode(key, w);
    return hash_bytes(bytes_);
  }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

}  // namespace sluice
