#include "state/rocksdb/native_snapshot.h"

#include <filesystem>

#include "runtime/core/errors.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

bool is_sst(const std::string& name) {
  return name.size() > 4 && name.compare(name.size() - 4, 4, ".sst") == 0;
}

}  // namespace

RocksFiles take_native_snapshot(RocksStore& store, int64_t checkpoint_id, KeyGroupRange range,
                                const std::string& tag,
                                const std::map<std::string, std::string>& known,
                                SnapshotFiles& out) {
  std::string scratch = store.options().directory + ".chk-" + std::to_string(checkpoint_id);
  std::error_code ec;
  fs::remove_all(scratch, ec);
  std::vector<std::string> names = store.checkpoint_to(scratch);
  out.scratch_dirs.push_back(scratch);
  RocksFiles files;
  files.first_group = range.first;
  files.last_group = range.last;
  for (const std::string& name : names) {
    RocksFile file{name, tag + "-" + name, is_sst(name)};
    if (file.shared) {
      auto restored = known.find(name);
      if (restored != known.end()) file.stored = restored->second;
    }
    out.files.push_back(FileToStore{scratch + "/" + name, file.stored, file.shared});
    files.files.push_back(std::move(file));
  }
  return files;
}

void materialize(const RocksFiles& files, const std::string& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) throw ExternalError("cannot create " + dir + ": " + ec.message());
  for (const RocksFile& file : files.files) {
    std::string source =
        (file.shared ? files.shared_dir : files.checkpoint_dir) + "/" + file.stored;
    std::string target = dir + "/" + file.local;
    if (!fs::exists(source)) throw InputError("checkpoint file " + source + " is missing");
    // SST files are immutable: a link is enough. The others RocksDB may
    // rewrite, so they are copies.
    if (file.shared) {
      fs::create_hard_link(source, target, ec);
      if (!ec) continue;
    }
    fs::copy_file(source, target, fs::copy_options::overwrite_existing, ec);
    if (ec) throw ExternalError("cannot copy " + source + " to " + target + ": " + ec.message());
  }
}

}  // namespace sluice
