// One RocksDB instance for one operator subtask's keyed state: a column
// family per state, opened in a private working directory that is deleted
// when the store goes away (checkpoints copy what they need elsewhere).
// Memory is bounded per instance (its own block cache and a write-buffer
// manager charged to it) or, with shared_memory_bytes, by one budget that
// every instance of the process shares. RocksDB's types stay inside the
// .cc file.
//
// Checkpoints use RocksDB's own checkpoint facility: checkpoint_to() flushes
// the memtables and hard-links the live SST files into a new directory (the
// cheap synchronous part); a restore at the same key groups opens such a
// directory's files again (kExisting), one at other key groups copies the
// ranges it owns out of the old instances (copy_groups_from).
//
// Threading: used only by the owning operator's task thread, but for
// summed_property() and block_cache_usage() (metrics, from any thread).
// Lifecycle: open (constructor) -> column_family per state -> reads,
// writes, checkpoint_to -> destroy (closes the DB, removes the directory).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

struct RocksDbOptions {
  // The instance's working directory; created, and removed on close.
  std::string directory;
  // Block cache for reads. Default 32 MiB.
  size_t block_cache_bytes = size_t{32} << 20;
  // All memtables of the instance together. Default 16 MiB.
  size_t write_buffer_bytes = size_t{16} << 20;
  // When set: every instance of the process opened with the same value
  // shares one block cache of this size, and their memtables together are
  // charged to it (half of it at most), as Flink's managed memory is shared
  // by a task manager's RocksDB instances; the two sizes above are then
  // unused. 0: each instance has its own cache and memtables.
  size_t shared_memory_bytes = 0;
  // Entries each state table keeps decoded in its write cache.
  size_t write_cache_entries = 16384;
};

class RocksStore {
 public:
  // kFresh empties the directory first; kExisting opens the instance found
  // there (restored files) with all its column families.
  enum class Open { kFresh, kExisting };

  // Throws ExternalError naming the directory when RocksDB cannot open it.
  explicit RocksStore(RocksDbOptions options, Open mode = Open::kFresh);
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
  // Writes gathered to be applied together (one RocksDB WriteBatch): the
  // state tables' write caches flush through one.
  class Batch {
   public:
    explicit Batch(RocksStore& store);
    ~Batch();
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;
    void put(int cf, std::string_view key, std::string_view value);
    void remove(int cf, std::string_view key);
    void append(int cf, std::string_view key, std::string_view suffix);
    size_t count() const;

   private:
    friend class RocksStore;
    struct Impl;
    RocksStore& store_;
    std::unique_ptr<Impl> impl_;
  };
  // Applies `batch` atomically and empties it.
  void write(Batch& batch);

  // Calls `each(key, value)` for every entry of the column family, in order.
  void for_each(int cf, const std::function<void(std::string_view, std::string_view)>& each);

  // Flushes the memtables and writes a RocksDB checkpoint of the instance
  // into `dir` (which must not exist): SST files hard-linked, the rest
  // copied. Returns the names of the files in it.
  std::vector<std::string> checkpoint_to(const std::string& dir);
  // Copies every entry whose key group is in [first, last] from the instance
  // in `db_dir` (opened read-only) into the same-named column families here.
  void copy_groups_from(const std::string& db_dir, int first, int last);

  const RocksDbOptions& options() const { return options_; }
  // Whether this instance and `other` use one block cache and memtable budget.
  bool shares_memory_with(const RocksStore& other) const;
  // The capacity of the block cache this instance uses.
  size_t block_cache_capacity() const;
  // A RocksDB integer property ("rocksdb.cur-size-all-mem-tables", ...)
  // summed over the instance's column families; 0 when RocksDB has none.
  // Unlike the rest, callable from any thread while the instance is open.
  uint64_t summed_property(const std::string& name) const;
  // The bytes the block cache this instance uses holds (a shared cache's
  // whole usage).
  uint64_t block_cache_usage() const;

 private:
  struct Impl;
  RocksDbOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice
