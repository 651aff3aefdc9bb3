// Transparent hashing for maps keyed by byte strings, so lookups by
// std::string_view do not allocate.
#pragma once

#include <string>
#include <string_view>

#include "runtime/core/hash.h"

namespace sluice {

struct BytesHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return hash_bytes(s); }
  size_t operator()(const std::string& s) const { return hash_bytes(s); }
};

}  // namespace sluice
