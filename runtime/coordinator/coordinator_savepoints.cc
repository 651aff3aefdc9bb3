// Savepoints of the checkpoint coordinator (runtime/coordinator/coordinator.h).
#include <filesystem>

#include <fmt/format.h>

#include "runtime/checkpoint/checksummed_file.h"
#include "runtime/coordinator/coordinator.h"
#include "runtime/core/errors.h"
#include "runtime/core/file_io.h"
#include "runtime/core/logging.h"

namespace sluice {

namespace fs = std::filesystem;

uint64_t CheckpointCoordinator::request_savepoint(CheckpointKind kind,
                                                  const std::string& directory) {
  std::lock_guard lock(mutex_);
  uint64_t number = next_savepoint_request_++;
  SavepointResult& result = savepoint_results_[number];
  if (stopped_ || !failure_.empty() || all_inputs_ended_locked()) {
    result.error = "the job's attempt is ending";
  } else {
    savepoint_requests_.push_back(SavepointRequest{number, kind, directory});
  }
  return number;
}

CheckpointCoordinator::SavepointResult CheckpointCoordinator::savepoint_result(
    uint64_t request) const {
  std::lock_guard lock(mutex_);
  auto it = savepoint_results_.find(request);
  if (it != savepoint_results_.end()) return it->second;
  SavepointResult unknown;
  unknown.error = "no such savepoint request";
  return unknown;
}

uint64_t CheckpointCoordinator::take_final_savepoint_into(const std::string& directory) {
  std::lock_guard lock(mutex_);
  uint64_t number = next_savepoint_request_++;
  savepoint_results_[number];
  final_savepoint_ = SavepointRequest{number, CheckpointKind::kSavepoint, directory};
  return number;
}

std::optional<CheckpointCoordinator::SavepointRequest>
CheckpointCoordinator::next_savepoint_locked() {
  if (all_inputs_ended_locked()) return final_savepoint_;
  if (savepoint_requests_.empty()) return std::nullopt;
  SavepointRequest request = savepoint_requests_.front();
  savepoint_requests_.pop_front();
  return request;
}

void CheckpointCoordinator::set_savepoint_locked(Pending& p, const SavepointRequest& request) {
  p.kind = request.kind;
  p.savepoint_request = request.number;
  if (request.number != 0) savepoint_results_[request.number].id = p.id;
  std::error_code ec;
  fs::path directory = fs::absolute(request.directory, ec);
  if (ec) throw ExternalError("savepoint directory " + request.directory + ": " + ec.message());
  p.savepoint_path = (directory / fmt::format("savepoint-{}-{}", p.metadata.job, p.id))
                         .lexically_normal()
                         .string();
  if (fs::exists(p.savepoint_path, ec) || ec) {
    throw InputError(p.savepoint_path + (ec ? ": " + ec.message() : " exists already"));
  }
}

namespace {

// Copies checkpoint directory `source` to `target`, whole or not at all.
void copy_checkpoint_dir(const std::string& source, const std::string& target) {
  std::string staging = target + ".in-progress";
  try {
    fs::remove_all(staging);
    make_directories(staging);
    for (const auto& entry : fs::directory_iterator(source)) {
      copy_file_durably(entry.path().string(), staging + "/" + entry.path().filename().string());
    }
    file_io::rename_durably(staging, target, "savepoint");
  } catch (...) {
    std::error_code ec;
    fs::remove_all(staging, ec);
    throw;
  }
}

}  // namespace

void CheckpointCoordinator::place_savepoint_locked(const Pending& done) {
  auto copied = std::make_shared<Pending>(done);
  std::string source = storage_.checkpoint_dir(done.id);
  background_.post([this, copied, source] {
    std::string target = copied->savepoint_path;
    std::string error;
    try {
      copy_checkpoint_dir(source, target);
    } catch (const std::exception& e) {
      error = fmt::format(
          "savepoint {} completed but could not be copied to {} ({}); it is restorable from "
          "checkpoint storage at {} until retention removes it",
          copied->id, target, e.what(), source);
    }
    std::lock_guard lock(mutex_);
    SavepointResult& result = savepoint_results_[copied->savepoint_request];
    result.id = copied->id;
    if (error.empty()) {
      result.path = target;
      record_locked(*copied, CheckpointStatus::kCompleted);
      log::runtime()->info("savepoint {} written to {}", copied->id, target);
    } else {
      result.path = source;  // the checkpoint itself is a whole savepoint
      result.error = error;
      log::runtime()->warn("{}", error);
    }
  });
}

void CheckpointCoordinator::savepoint_failed_locked(const Pending& p, const std::string& why,
                                                    bool triggered) {
  if (!is_savepoint(p.kind)) return;
  // A final savepoint is tried again with the next final checkpoint.
  bool retried = final_savepoint_ && final_savepoint_->number == p.savepoint_request;
  if (p.savepoint_request != 0 && !retried) {
    savepoint_results_[p.savepoint_request].error =
        fmt::format("savepoint {} failed: {}", p.id, why);
  }
  if (p.kind == CheckpointKind::kStopSavepoint && triggered) {
    // Its sources have stopped reading: only a restart resumes the job.
    failure_ = fmt::format(
        "the stop's savepoint {} failed ({}); the job restarts from its latest checkpoint", p.id,
        why);
  }
}

}  // namespace sluice
