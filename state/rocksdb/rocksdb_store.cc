#include "state/rocksdb/rocksdb_store.h"

#include <filesystem>
#include <vector>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_buffer_manager.h>

#include "runtime/core/errors.h"

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

rocksdb::Slice slice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

void check(const rocksdb::Status& status, const std::string& what, const std::string& dir) {
  if (!status.ok()) {
    throw ExternalError("rocksdb state " + dir + ": " + what + ": " + status.ToString());
  }
}

}  // namespace

struct RocksStore::Impl {
  std::shared_ptr<rocksdb::Cache> cache;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers;
  rocksdb::ColumnFamilyOptions cf_options;
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> families;
  std::vector<std::string> names;
  rocksdb::WriteOptions write;
  rocksdb::ReadOptions read;
};

RocksStore::RocksStore(RocksDbOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  std::error_code ec;
  std::filesystem::remove_all(options_.directory, ec);
  std::filesystem::create_directories(options_.directory, ec);
  if (ec) {
    throw ExternalError("rocksdb state: cannot create " + options_.directory + ": " +
                        ec.message());
  }
  impl_->cache = rocksdb::NewLRUCache(options_.block_cache_bytes);
  impl_->write_buffers = std::make_shared<rocksdb::WriteBufferManager>(
      options_.write_buffer_bytes, impl_->cache);

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = impl_->cache;
  table.cache_index_and_filter_blocks = true;
  impl_->cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  impl_->cf_options.merge_operator = std::make_shared<AppendOperator>();
  impl_->cf_options.write_buffer_size = options_.write_buffer_bytes / 4;

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.write_buffer_manager = impl_->write_buffers;
  db_options.max_open_files = 256;
  db_options.info_log_level = rocksdb::InfoLogLevel::ERROR_LEVEL;
  db_options.keep_log_file_num = 1;
  rocksdb::Options open_options(db_options, impl_->cf_options);
  rocksdb::DB* db = nullptr;
  check(rocksdb::DB::Open(open_options, options_.directory, &db), "open", options_.directory);
  impl_->db.reset(db);
  // State is disposable working storage: a crash loses nothing a
  // checkpoint did not copy, so the write-ahead log is not needed.
  impl_->write.disableWAL = true;
}

RocksStore::~RocksStore() {
  for (rocksdb::ColumnFamilyHandle* h : impl_->families) impl_->db->DestroyColumnFamilyHandle(h);
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
  rocksdb::Status s = impl_->db->Get(impl_->read, impl_->families[static_cast<size_t>(cf)],
                                     slice(key), &out);
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

}  // namespace sluice
