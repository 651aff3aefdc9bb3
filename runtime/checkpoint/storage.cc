#include "runtime/checkpoint/storage.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <set>

#include "runtime/checkpoint/checksummed_file.h"
#include "runtime/checkpoint/stored_formats.h"
#include "runtime/core/errors.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

constexpr const char* kMetadata = "_metadata";

// The id of a directory named chk-<N>, or -1.
int64_t checkpoint_id_of(const fs::path& dir) {
  std::string name = dir.filename().string();
  if (name.rfind("chk-", 0) != 0) return -1;
  int64_t id = -1;
  auto [rest, ec] = std::from_chars(name.data() + 4, name.data() + name.size(), id);
  return ec == std::errc() && rest == name.data() + name.size() ? id : -1;
}

}  // namespace

void make_directories(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw ExternalError("cannot create " + dir + ": " + ec.message());
}

CheckpointStorage::CheckpointStorage(std::string root, std::string job)
    : job_dir_(std::move(root) + "/" + std::move(job)) {}

std::string CheckpointStorage::checkpoint_dir(int64_t id) const {
  return job_dir_ + "/chk-" + std::to_string(id);
}

std::string CheckpointStorage::prepare(int64_t id) const {
  std::string dir = checkpoint_dir(id);
  make_directories(dir);
  make_directories(shared_dir());
  return dir;
}

std::string CheckpointStorage::write_state_file(int64_t id, const std::string& name,
                                                const std::string& bytes) const {
  write_checksummed_file(checkpoint_dir(id) + "/" + name, bytes);
  return name;
}

uint64_t CheckpointStorage::store_file(int64_t id, const FileToStore& file) const {
  std::string target = (file.shared ? shared_dir() : checkpoint_dir(id)) + "/" + file.stored;
  if (file.shared && fs::exists(target)) return 0;
  copy_file_durably(file.source, target);
  return fs::file_size(target);
}

std::string CheckpointStorage::read_state_file(const std::string& checkpoint_dir,
                                               const std::string& name) const {
  return read_checksummed_file(checkpoint_dir + "/" + name);
}

void CheckpointStorage::complete(const CheckpointMetadata& metadata) const {
  write_checksummed_file(checkpoint_dir(metadata.id) + "/" + kMetadata, encode_metadata(metadata),
                         "checkpoint.metadata-written-not-renamed");
}

std::vector<int64_t> CheckpointStorage::complete_ids() const {
  std::vector<int64_t> ids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(job_dir_, ec)) {
    int64_t id = checkpoint_id_of(entry.path());
    if (id >= 0 && fs::exists(entry.path() / kMetadata)) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

CheckpointMetadata CheckpointStorage::load(const std::string& checkpoint_dir) const {
  std::string path = checkpoint_dir + "/" + kMetadata;
  CheckpointMetadata metadata;
  try {
    metadata = read_metadata(checkpoint_dir);
  } catch (const ExternalError& e) {
    throw InputError(checkpoint_dir + ": no readable metadata (" + e.what() + ")");
  }
  std::string shared = (fs::path(checkpoint_dir).parent_path() / "shared").string();
  for (const OperatorStateHandle& op : metadata.operators) {
    for (const SubtaskStateHandle& s : op.subtasks) {
      for (const std::string& file : {s.keyed_state, s.operator_state}) {
        if (!file.empty()) read_checksummed_file(checkpoint_dir + "/" + file);
      }
      for (const std::string& file : s.shared_files) {
        if (!fs::exists(shared + "/" + file)) {
          throw InputError(checkpoint_dir + ": shared file " + file + " is missing");
        }
      }
      for (const std::string& file : s.files) {
        if (!fs::exists(checkpoint_dir + "/" + file)) {
          throw InputError(checkpoint_dir + ": file " + file + " is missing");
        }
      }
    }
  }
  return metadata;
}

std::optional<CheckpointMetadata> CheckpointStorage::latest(
    std::vector<std::string>& warnings) const {
  std::vector<int64_t> ids = complete_ids();
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    try {
      return load(checkpoint_dir(*it));
    } catch (const SluiceError& e) {
      warnings.push_back("skipping checkpoint " + std::to_string(*it) + ": " + e.what());
    }
  }
  return std::nullopt;
}

CheckpointMetadata CheckpointStorage::read_metadata(const std::string& checkpoint_dir) const {
  std::string path = checkpoint_dir + "/" + kMetadata;
  return decode_metadata(read_checksummed_file(path), path);
}

RetentionReport CheckpointStorage::retain(size_t keep) const {
  RetentionReport report;
  std::vector<int64_t> complete = complete_ids();
  // From the newest: keep until `keep` readable ones are kept. A checkpoint
  // whose metadata cannot be read is kept too (it may be read again later)
  // and, since nobody knows what it references, no shared file goes.
  std::set<int64_t> kept;
  std::set<std::string> referenced;
  size_t readable = 0;
  for (auto it = complete.rbegin(); it != complete.rend() && readable < keep; ++it) {
    kept.insert(*it);
    try {
      for (const OperatorStateHandle& op : read_metadata(checkpoint_dir(*it)).operators) {
        for (const SubtaskStateHandle& s : op.subtasks) {
          referenced.insert(s.shared_files.begin(), s.shared_files.end());
        }
      }
      ++readable;
    } catch (const SluiceError& e) {
      report.unreadable.push_back("checkpoint " + std::to_string(*it) + ": " + e.what());
    }
  }
  int64_t newest = complete.empty() ? -1 : complete.back();
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(job_dir_, ec)) {
    int64_t id = checkpoint_id_of(entry.path());
    // Older than the newest complete one and not kept: finished or
    // abandoned. Newer ones may be in progress.
    if (id < 0 || id >= newest || kept.count(id)) continue;
    fs::remove_all(entry.path(), ec);
    ++report.checkpoints_deleted;
  }
  if (!report.unreadable.empty()) return report;
  for (const auto& entry : fs::directory_iterator(shared_dir(), ec)) {
    if (referenced.count(entry.path().filename().string())) continue;
    fs::remove(entry.path(), ec);
    ++report.shared_files_deleted;
  }
  return report;
}

}  // namespace sluice
