// One RocksDB instance for one operator subtask's keyed state: a column
// family per state, opened in a private working directory that is deleted
// when the store goes away (checkpoints copy what they need elsewhere).
// Memory is bounded per instance: its own block cache and a write-buffer
// manager charged to it. RocksDB's types stay inside the .cc file.
//
// Threading: used only by the owning operator's task thread.
// Lifecycle: open (constructor) -> column_family per state -> reads and
// writes -> destroy (closes the DB and removes the directory).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace sluice {

struct RocksDbOptions {
  // The instance's working directory; created, and removed on close.
  std::string directory;
  // Block cache for reads. Default 32 MiB.
  size_t block_cache_bytes = size_t{32} << 20;
  // All memtables of the instance together. Default 16 MiB.
  size_t write_buffer_bytes = size_t{16} << 20;
};

class RocksStore {
 public:
  // Throws ExternalError naming the directory when RocksDB cannot open it.
  explicit RocksStore(RocksDbOptions options);
  ~RocksStore();
  RocksStore(const RocksStore&) = delete;
  RocksStore& operator=(const RocksStore&) = delete;

  // The column family for state `name`, created on first use.
  int column_family(const std::string& name);

  // Reads the value of `key` into `out`; false when absent.
  bool get(int cf, std::string_view key, std::string& out);
  void put(int cf, std::string_view key, std::string_view value);
  void remove(int cf, std::string_view key);
  // Appends `suffix` to the value of `key` (a RocksDB merge).
  void append(int cf, std::string_view key, std::string_view suffix);
  // Calls `each(key, value)` for every entry of the column family, in order.
  void for_each(int cf, const std::function<void(std::string_view, std::string_view)>& each);

  const RocksDbOptions& options() const { return options_; }

 private:
  struct Impl;
  RocksDbOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice
