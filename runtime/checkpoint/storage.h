// Checkpoint storage on a directory every process can reach:
//
//   <root>/<job>/chk-<N>/_metadata       the checkpoint's metadata (written last)
//   <root>/<job>/chk-<N>/<state files>    files of this checkpoint only
//   <root>/<job>/shared/<files>           files several checkpoints reference
//
// A checkpoint is complete once its _metadata exists; every file is
// checksummed and written by rename, so a crash leaves either a whole file
// or a temporary one. latest() returns the newest checkpoint whose metadata
// and files are intact, and says which newer ones it skipped and why.
//
// Threading: one CheckpointStorage per job, used by the coordinator's
// thread; tasks write their own state files into the checkpoint's directory
// through write_state_file, from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/checkpoint/metadata.h"
#include "state/snapshot.h"

namespace sluice {

// Creates `dir` and its parents. Throws ExternalError.
void make_directories(const std::string& dir);

// What one retention pass did, for logs and tests.
struct RetentionReport {
  size_t checkpoints_deleted = 0;
  size_t shared_files_deleted = 0;
  // Kept checkpoints whose metadata could not be read, and why: while there
  // are any, no shared file is deleted.
  std::vector<std::string> unreadable;
};

class CheckpointStorage {
 public:
  CheckpointStorage(std::string root, std::string job);

  const std::string& job_dir() const { return job_dir_; }
  std::string checkpoint_dir(int64_t id) const;
  std::string shared_dir() const { return job_dir_ + "/shared"; }

  // Creates the directory of checkpoint `id` (and the shared area).
  std::string prepare(int64_t id) const;
  // Writes a state file of checkpoint `id`; returns its name in the metadata.
  std::string write_state_file(int64_t id, const std::string& name, const std::string& bytes) const;
  // Stores `file` in the shared area (skipped when a file of that name is
  // already there: shared files are immutable) or in checkpoint `id`'s
  // directory, by copy, sync and rename. Returns the bytes it copied.
  // Throws ExternalError on I/O errors.
  uint64_t store_file(int64_t id, const FileToStore& file) const;
  std::string read_state_file(const std::string& checkpoint_dir, const std::string& name) const;
  // Marks checkpoint `metadata.id` complete by writing its metadata.
  void complete(const CheckpointMetadata& metadata) const;

  // The ids of complete checkpoints (with metadata), ascending.
  std::vector<int64_t> complete_ids() const;
  // The newest intact checkpoint; each skipped one adds a warning.
  std::optional<CheckpointMetadata> latest(std::vector<std::string>& warnings) const;
  // Loads and verifies the checkpoint in `checkpoint_dir` (metadata and
  // every file it references). Throws InputError when it is not intact.
  CheckpointMetadata load(const std::string& checkpoint_dir) const;

  // Reads and verifies checkpoint metadata only (not the files it names).
  // Throws InputError when corrupt, ExternalError when unreadable.
  CheckpointMetadata read_metadata(const std::string& checkpoint_dir) const;

  // Keeps the newest `keep` complete checkpoints whose metadata is
  // readable (and any newer ones whose metadata is not); deletes older
  // checkpoints and unfinished ones older than the newest complete one;
  // deletes the shared files no kept checkpoint references, unless a kept
  // checkpoint's metadata is unreadable (it might reference any of them).
  // Reads only metadata. Call it only while no checkpoint is in progress:
  // an unfinished checkpoint's shared files are referenced by no metadata
  // yet. I/O errors while deleting are ignored (the next pass retries).
  RetentionReport retain(size_t keep) const;

 private:
  std::string job_dir_;
};

}  // namespace sluice
