#include "state/rocksdb/rocksdb_tables.h"

#include "runtime/core/codec.h"

namespace sluice {

void make_rocks_key(std::string_view key, std::string_view ns, std::string& out) {
  out.clear();
  out.append(key.substr(0, 2));
  ByteWriter writer(out);
  writer.write_varint(key.size() - 2);
  out.append(key.substr(2));
  out.append(ns);
}

void split_rocks_key(std::string_view rocks_key, std::string& key, std::string& ns) {
  ByteReader reader(rocks_key.substr(2));
  size_t key_size = reader.read_varint();
  std::string_view key_bytes = reader.read_view(key_size);
  key.assign(rocks_key.substr(0, 2));
  key.append(key_bytes);
  ns.assign(reader.read_view(reader.remaining()));
}

std::string portable_from_stored(std::string_view kind, std::string_view stored) {
  if (kind != "list") return std::string(stored);
  ByteReader reader(stored);
  std::string elements;
  size_t count = 0;
  while (!reader.at_end()) {
    size_t length = reader.read_varint();
    elements.append(reader.read_view(length));
    ++count;
  }
  std::string portable;
  ByteWriter writer(portable);
  writer.write_varint(count);
  portable += elements;
  return portable;
}

}  // namespace sluice
