// Versioned byte forms of the states that checkpoints persist with codecs
// (keyed snapshots, source positions, sink states): a varint format version,
// then the value's codec bytes. Writers always write their format's current
// version; readers accept every version from `oldest` to it and refuse
// others with an error that names the format, so a checkpoint written by a
// newer Sluice is never misread, and one written by an older Sluice stays
// readable after a format gains a field.
//
// Evolving a format: raise `version`, and teach its reader the old layout
// (read_version() tells which one follows), filling new fields with their
// defaults. Formats whose every readable version has the same layout use
// decode_versioned().
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/core/codec.h"
#include "runtime/core/errors.h"

namespace sluice {

struct PersistedFormat {
  const char* name;     // for errors: "source positions"
  uint32_t version;     // what this build writes, and the newest it reads
  uint32_t oldest = 1;  // the oldest it still reads
};

// Reads the version at the reader's position. Throws InputError
// "NAME: format version V is not readable here (this Sluice reads A to B)".
inline uint32_t read_version(ByteReader& reader, const PersistedFormat& format) {
  uint64_t version = reader.read_varint();
  if (version < format.oldest || version > format.version) {
    throw InputError(std::string(format.name) + ": format version " + std::to_string(version) +
                     " is not readable here (this Sluice reads " + std::to_string(format.oldest) +
                     " to " + std::to_string(format.version) + ")");
  }
  return static_cast<uint32_t>(version);
}

template <Encodable T>
std::string encode_versioned(const PersistedFormat& format, const T& value) {
  std::string out;
  ByteWriter writer(out);
  writer.write_varint(format.version);
  Codec<T>::encode(value, writer);
  return out;
}

// Decodes a value that must fill `bytes` exactly after its version.
template <Encodable T>
T decode_versioned(const PersistedFormat& format, std::string_view bytes) {
  ByteReader reader(bytes);
  read_version(reader, format);
  T value = Codec<T>::decode(reader);
  if (!reader.at_end()) throw InputError(std::string(format.name) + ": trailing bytes");
  return value;
}

}  // namespace sluice
