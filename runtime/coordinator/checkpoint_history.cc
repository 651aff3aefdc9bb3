#include "runtime/coordinator/checkpoint_history.h"

#include <algorithm>

namespace sluice {

const char* checkpoint_status_name(CheckpointStatus status) {
  switch (status) {
    case CheckpointStatus::kInProgress:
      return "IN_PROGRESS";
    case CheckpointStatus::kCompleted:
      return "COMPLETED";
    case CheckpointStatus::kFailed:
      return "FAILED";
  }
  return "UNKNOWN";
}

void CheckpointHistory::update(const CheckpointRecord& record) {
  std::lock_guard lock(mutex_);
  auto same = [&](const CheckpointRecord& r) { return r.id == record.id; };
  auto it = std::find_if(checkpoints_.begin(), checkpoints_.end(), same);
  CheckpointStatus before = it == checkpoints_.end() ? record.status : it->status;
  bool known = it != checkpoints_.end();
  if (!known) {
    checkpoints_.push_back(record);
    if (checkpoints_.size() > kCheckpointsKept) checkpoints_.pop_front();
  } else {
    *it = record;
  }
  auto count = [&](CheckpointStatus status, int64_t delta) {
    if (status == CheckpointStatus::kCompleted) counts_.completed += delta;
    if (status == CheckpointStatus::kFailed) counts_.failed += delta;
    if (status == CheckpointStatus::kInProgress) counts_.in_progress += delta;
  };
  if (known) count(before, -1);
  count(record.status, 1);
  if (record.status == CheckpointStatus::kCompleted) latest_completed_ = record;
  if (record.status == CheckpointStatus::kFailed) latest_failed_ = record;
}

void CheckpointHistory::add_batch(const BatchProgress& progress) {
  std::lock_guard lock(mutex_);
  batches_.push_back(progress);
  if (batches_.size() > kBatchesKept) batches_.pop_front();
}

CheckpointCounts CheckpointHistory::counts() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

std::vector<CheckpointRecord> CheckpointHistory::checkpoints() const {
  std::lock_guard lock(mutex_);
  return std::vector<CheckpointRecord>(checkpoints_.rbegin(), checkpoints_.rend());
}

std::optional<CheckpointRecord> CheckpointHistory::latest(CheckpointStatus status) const {
  std::lock_guard lock(mutex_);
  if (status == CheckpointStatus::kCompleted) return latest_completed_;
  if (status == CheckpointStatus::kFailed) return latest_failed_;
  for (auto it = checkpoints_.rbegin(); it != checkpoints_.rend(); ++it) {
    if (it->status == status) return *it;
  }
  return std::nullopt;
}

std::vector<BatchProgress> CheckpointHistory::batches() const {
  std::lock_guard lock(mutex_);
  return std::vector<BatchProgress>(batches_.begin(), batches_.end());
}

}  // namespace sluice
