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

}  // namespace sluice
