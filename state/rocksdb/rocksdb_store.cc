#include "state/rocksdb/rocksdb_store.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <vector>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_buffer_manager.h>

#include "runtime/core/errors.h"
#include "state/key_groups.h"

namespace sluice {
namespace {

// Concatenates operands: list state appends length-prefixed elements.
class AppendOperator final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    new_value->clear();
    if (existing != nullptr) new_value->assign(existing->data(), existing->size());
    new_value->append(value.data(), value.size());
    return true;
  }
  const char* Name() const override { return "sluice-append"; }
};

rocksdb::Slice slice(std::string_view s) {
  return rocksdb::Slice(s.data(), s.size());
}

void check(const rocksdb::Status& status, const std::string& what, const std::string& dir) {
  if (!status.ok()) {
    throw ExternalError("rocksdb state " + dir + ": " + what + ": " + status.ToString());
  }
}

// An instance opened with every column family it has; the caller owns the
// handles (the default family's among them).
struct OpenedInstance {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<std::string> names;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
};

OpenedInstance open_all_families(const rocksdb::DBOptions& db_options,
                                 const rocksdb::ColumnFamilyOptions& cf_options,
                                 const std::string& dir, bool read_only) {
  OpenedInstance opened;
  check(rocksdb::DB::ListColumnFamilies(db_options, dir, &opened.names), "list column families",
        dir);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : opened.names) descriptors.emplace_back(name, cf_options);
  rocksdb::DB* db = nullptr;
  check(read_only ? rocksdb::DB::OpenForReadOnly(db_options, dir, descriptors, &opened.handles, &db)
                  : rocksdb::DB::Open(db_options, dir, descriptors, &opened.handles, &db),
        "open", dir);
  opened.db.reset(db);
  return opened;
}

void close_instance(OpenedInstance& opened) {
  for (rocksdb::ColumnFamilyHandle* h : opened.handles) opened.db->DestroyColumnFamilyHandle(h);
  opened.handles.clear();
  opened.db.reset();
}

std::string group_prefix(int group) {
  std::string prefix;
  append_key_group_prefix(prefix, KeyGroup{static_cast<uint16_t>(group)});
  return prefix;
}

// A block cache and the write-buffer manager charged to it.
struct MemoryPool {
  std::shared_ptr<rocksdb::Cache> cache;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers;
};

std::shared_ptr<MemoryPool> make_pool(size_t cache_bytes, size_t write_buffer_bytes) {
  rocksdb::LRUCacheOptions cache_options;
  cache_options.capacity = cache_bytes;
  cache_options.high_pri_pool_ratio = 0.1;  // index and filter blocks
  auto pool = std::make_shared<MemoryPool>();
  pool->cache = rocksdb::NewLRUCache(cache_options);
  pool->write_buffers =
      std::make_shared<rocksdb::WriteBufferManager>(write_buffer_bytes, pool->cache);
  return pool;
}

// The pool of the process for a budget: made when the first instance with
// that budget opens, shared while any such instance is open. Opening an
// instance is rare, so a mutex is fine here.
std::shared_ptr<MemoryPool> shared_pool(size_t budget) {
  static std::mutex mutex;
  static std::map<size_t, std::weak_ptr<MemoryPool>> pools;
  std::lock_guard<std::mutex> lock(mutex);
  std::shared_ptr<MemoryPool> pool = pools[budget].lock();
  if (!pool) {
    pool = make_pool(budget, budget / 2);
    pools[budget] = pool;
  }
  return pool;
}

}  // namespace

struct RocksStore::Impl {
  std::shared_ptr<MemoryPool> memory;
  rocksdb::ColumnFamilyOptions cf_options;
  rocksdb::DBOptions db_options;
  std::unique_ptr<rocksdb::DB> db;
  // The state families, by index; the default family's handle (when the
  // instance was opened with its families) is only kept to be released.
  std::vector<rocksdb::ColumnFamilyHandle*> families;
  std::vector<std::string> names;
  rocksdb::ColumnFamilyHandle* default_family = nullptr;
  rocksdb::WriteOptions write;
  rocksdb::ReadOptions read;
};

RocksStore::RocksStore(RocksDbOptions options, Open mode)
    : options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  std::error_code ec;
  if (mode == Open::kFresh) std::filesystem::remove_all(options_.directory, ec);
  std::filesystem::create_directories(options_.directory, ec);
  if (ec) {
    throw ExternalError("rocksdb state: cannot create " + options_.directory + ": " + ec.message());
  }
  impl_->memory = options_.shared_memory_bytes > 0
                      ? shared_pool(options_.shared_memory_bytes)
                      : make_pool(options_.block_cache_bytes, options_.write_buffer_bytes);
  size_t write_buffer_bytes = options_.shared_memory_bytes > 0 ? options_.shared_memory_bytes / 2
                                                               : options_.write_buffer_bytes;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = impl_->memory->cache;
  // Index and filter blocks live in the bounded cache too. Partitioned, so
  // a cache miss reads one small partition rather than a whole SST's index
  // (which made every lookup copy hundreds of KiB once state outgrew the
  // cache); the top level stays pinned. Bloom filters spare the lookups of
  // new keys a read of every level.
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_top_level_index_and_filter = true;
  table.index_type = rocksdb::BlockBasedTableOptions::IndexType::kTwoLevelIndexSearch;
  table.partition_filters = true;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  impl_->cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  impl_->cf_options.merge_operator = std::make_shared<AppendOperator>();
  // A memtable is a quarter of the instance's own share, or at most 16 MiB
  // of a shared one (many instances fill it together).
  impl_->cf_options.write_buffer_size = options_.shared_memory_bytes > 0
                                            ? std::min(write_buffer_bytes / 4, size_t{16} << 20)
                                            : write_buffer_bytes / 4;

  rocksdb::DBOptions& db_options = impl_->db_options;
  db_options.create_if_missing = true;
  db_options.write_buffer_manager = impl_->memory->write_buffers;
  db_options.max_open_files = 256;
  db_options.info_log_level = rocksdb::InfoLogLevel::ERROR_LEVEL;
  db_options.keep_log_file_num = 1;
  if (mode == Open::kExisting) {
    OpenedInstance opened =
        open_all_families(db_options, impl_->cf_options, options_.directory, false);
    impl_->db = std::move(opened.db);
    for (size_t i = 0; i < opened.names.size(); ++i) {
      if (opened.names[i] == rocksdb::kDefaultColumnFamilyName) {
        impl_->default_family = opened.handles[i];
        continue;
      }
      impl_->families.push_back(opened.handles[i]);
      impl_->names.push_back(opened.names[i]);
    }
  } else {
    rocksdb::Options open_options(db_options, impl_->cf_options);
    rocksdb::DB* db = nullptr;
    check(rocksdb::DB::Open(open_options, options_.directory, &db), "open", options_.directory);
    impl_->db.reset(db);
  }
  // State is disposable working storage: a crash loses nothing a
  // checkpoint did not copy, so the write-ahead log is not needed.
  impl_->write.disableWAL = true;
}

RocksStore::~RocksStore() {
  for (rocksdb::ColumnFamilyHandle* h : impl_->families) impl_->db->DestroyColumnFamilyHandle(h);
  if (impl_->default_family != nullptr) impl_->db->DestroyColumnFamilyHandle(impl_->default_family);
  impl_->db.reset();
  std::error_code ec;
  std::filesystem::remove_all(options_.directory, ec);
}

int RocksStore::column_family(const std::string& name) {
  for (size_t i = 0; i < impl_->names.size(); ++i) {
    if (impl_->names[i] == name) return static_cast<int>(i);
  }
  rocksdb::ColumnFamilyHandle* handle = nullptr;
  check(impl_->db->CreateColumnFamily(impl_->cf_options, name, &handle),
        "create column family " + name, options_.directory);
  impl_->families.push_back(handle);
  impl_->names.push_back(name);
  return static_cast<int>(impl_->families.size() - 1);
}

bool RocksStore::get(int cf, std::string_view key, std::string& out) {
  rocksdb::Status s =
      impl_->db->Get(impl_->read, impl_->families[static_cast<size_t>(cf)], slice(key), &out);
  if (s.IsNotFound()) return false;
  check(s, "get", options_.directory);
  return true;
}

void RocksStore::put(int cf, std::string_view key, std::string_view value) {
  check(impl_->db->Put(impl_->write, impl_->families[static_cast<size_t>(cf)], slice(key),
                       slice(value)),
        "put", options_.directory);
}

void RocksStore::remove(int cf, std::string_view key) {
  check(impl_->db->Delete(impl_->write, impl_->families[static_cast<size_t>(cf)], slice(key)),
        "delete", options_.directory);
}

void RocksStore::append(int cf, std::string_view key, std::string_view suffix) {
  check(impl_->db->Merge(impl_->write, impl_->families[static_cast<size_t>(cf)], slice(key),
                         slice(suffix)),
        "merge", options_.directory);
}

bool RocksStore::shares_memory_with(const RocksStore& other) const {
  return impl_->memory == other.impl_->memory;
}

size_t RocksStore::block_cache_capacity() const {
  return impl_->memory->cache->GetCapacity();
}

uint64_t RocksStore::summed_property(const std::string& name) const {
  uint64_t value = 0;
  return impl_->db->GetAggregatedIntProperty(name, &value) ? value : 0;
}

uint64_t RocksStore::block_cache_usage() const {
  return impl_->memory->cache->GetUsage();
}

struct RocksStore::Batch::Impl {
  rocksdb::WriteBatch batch;
};

RocksStore::Batch::Batch(RocksStore& store) : store_(store), impl_(std::make_unique<Impl>()) {}
RocksStore::Batch::~Batch() = default;

void RocksStore::Batch::put(int cf, std::string_view key, std::string_view value) {
  check(impl_->batch.Put(store_.impl_->families[static_cast<size_t>(cf)], slice(key), slice(value)),
        "put", store_.options_.directory);
}

void RocksStore::Batch::remove(int cf, std::string_view key) {
  check(impl_->batch.Delete(store_.impl_->families[static_cast<size_t>(cf)], slice(key)), "delete",
        store_.options_.directory);
}

void RocksStore::Batch::append(int cf, std::string_view key, std::string_view suffix) {
  check(impl_->batch.Merge(store_.impl_->families[static_cast<size_t>(cf)], slice(key),
                           slice(suffix)),
        "merge", store_.options_.directory);
}

size_t RocksStore::Batch::count() const {
  return static_cast<size_t>(impl_->batch.Count());
}

void RocksStore::write(Batch& batch) {
  if (batch.count() == 0) return;
  check(impl_->db->Write(impl_->write, &batch.impl_->batch), "write", options_.directory);
  batch.impl_->batch.Clear();
}

void RocksStore::for_each(int cf,
                          const std::function<void(std::string_view, std::string_view)>& each) {
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(impl_->read, impl_->families[static_cast<size_t>(cf)]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    each(std::string_view(it->key().data(), it->key().size()),
         std::string_view(it->value().data(), it->value().size()));
  }
  check(it->status(), "iterate", options_.directory);
}

std::vector<std::string> RocksStore::checkpoint_to(const std::string& dir) {
  if (!impl_->families.empty()) {
    rocksdb::FlushOptions flush;
    flush.allow_write_stall = true;
    check(impl_->db->Flush(flush, impl_->families), "flush", options_.directory);
  }
  rocksdb::Checkpoint* raw = nullptr;
  check(rocksdb::Checkpoint::Create(impl_->db.get(), &raw), "checkpoint", options_.directory);
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  check(checkpoint->CreateCheckpoint(dir), "checkpoint into " + dir, options_.directory);
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    files.push_back(entry.path().filename().string());
  }
  return files;
}

void RocksStore::copy_groups_from(const std::string& db_dir, int first, int last) {
  OpenedInstance old = open_all_families(impl_->db_options, impl_->cf_options, db_dir, true);
  std::string lower = group_prefix(first);
  std::string upper = group_prefix(last + 1);  // groups stay below 2^15
  rocksdb::Slice upper_bound = slice(upper);
  rocksdb::ReadOptions read;
  read.iterate_upper_bound = &upper_bound;
  constexpr size_t kBatchBytes = size_t{8} << 20;
  for (size_t i = 0; i < old.names.size(); ++i) {
    if (old.names[i] == rocksdb::kDefaultColumnFamilyName) continue;
    rocksdb::ColumnFamilyHandle* target =
        impl_->families[static_cast<size_t>(column_family(old.names[i]))];
    std::unique_ptr<rocksdb::Iterator> it(old.db->NewIterator(read, old.handles[i]));
    rocksdb::WriteBatch batch;
    for (it->Seek(slice(lower)); it->Valid(); it->Next()) {
      check(batch.Put(target, it->key(), it->value()), "copy", options_.directory);
      if (batch.GetDataSize() < kBatchBytes) continue;
      check(impl_->db->Write(impl_->write, &batch), "copy", options_.directory);
      batch.Clear();
    }
    check(it->status(), "read " + old.names[i], db_dir);
    check(impl_->db->Write(impl_->write, &batch), "copy", options_.directory);
  }
  close_instance(old);
}

}  // namespace sluice
