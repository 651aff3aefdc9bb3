// The micro-batch logs in checkpoint storage (design section 10), next to
// the job's checkpoints:
//
//   <root>/<job>/offsets/<N>            the plan of batch N: written before
//                                       any source reads it (write-ahead)
//   <root>/<job>/commits/<N>            written once batch N committed
//   <root>/<job>/progress/batches.jsonl one JSON object per committed batch
//
// Batch N is checkpoint N: it commits when checkpoint N completes. Plans
// and commit records are checksummed files written by rename, so a crash
// leaves a whole entry or none. After a crash, every planned batch after
// the restored checkpoint runs again with its logged slices.
//
// Threading: used by the checkpoint coordinator's thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/core/codec.h"
#include "runtime/core/time.h"
#include "runtime/operator/source.h"

namespace sluice {

// One source's slices of a batch, for all of its splits.
struct SourceSlices {
  std::string source;  // the source operator's name
  std::vector<SplitSlice> slices;
};

struct BatchPlan {
  int64_t id = 0;
  Timestamp planned_at = 0;
  std::vector<SourceSlices> sources;

  // The slices of `source`, or null when the plan has none.
  const std::vector<SplitSlice>* slices_of(const std::string& source) const;
  // Records the plan covers, over all sources (positions apart).
  bool reads_anything() const;
};

struct BatchCommit {
  int64_t id = 0;
  Timestamp committed_at = 0;
};

class BatchLog {
 public:
  explicit BatchLog(std::string job_dir);

  // Throw ExternalError on I/O errors.
  void write_plan(const BatchPlan& plan) const;
  void write_commit(const BatchCommit& commit) const;
  void append_progress(const std::string& json_line) const;

  // The plan of batch `id`, or nullopt when none was written. Throws
  // InputError when the entry is corrupt.
  std::optional<BatchPlan> read_plan(int64_t id) const;
  bool committed(int64_t id) const;
  // The plans after batch `last`, in order and without gaps: the batches
  // to run again after restoring checkpoint `last`.
  std::vector<BatchPlan> plans_after(int64_t last) const;
  // Removes entries of batches after `last` (plans a fresh start ignores).
  void discard_after(int64_t last) const;
  // Removes entries of batches before `first` (older than every kept
  // checkpoint).
  void discard_before(int64_t first) const;

  const std::string& offsets_dir() const { return offsets_dir_; }
  const std::string& commits_dir() const { return commits_dir_; }
  std::string progress_file() const { return progress_dir_ + "/batches.jsonl"; }

 private:
  std::vector<int64_t> ids_in(const std::string& dir) const;
  void remove_where(bool (*drop)(int64_t id, int64_t bound), int64_t bound) const;

  std::string offsets_dir_;
  std::string commits_dir_;
  std::string progress_dir_;
};

}  // namespace sluice
