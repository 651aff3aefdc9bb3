#include "runtime/checkpoint/snapshot_writer.h"

#include <filesystem>

#include "runtime/core/fault_injection.h"

namespace sluice {

SnapshotWriter::SnapshotWriter(CheckpointStorage storage, OnStored on_stored)
    : storage_(std::move(storage)), on_stored_(std::move(on_stored)) {}

void SnapshotWriter::submit(int64_t id, size_t task, std::vector<OperatorSnapshotBytes> operators,
                            const SnapshotReport& report) {
  auto job = std::make_shared<Job>(
      Job{id, task, std::move(operators), report, std::chrono::steady_clock::now()});
  thread_.post([this, job] { write(*job); });
}

void SnapshotWriter::abandon_up_to(int64_t id) {
  std::lock_guard lock(mutex_);
  abandoned_up_to_ = std::max(abandoned_up_to_, id);
}

void SnapshotWriter::write(Job& job) {
  bool wanted;
  {
    std::lock_guard lock(mutex_);
    wanted = job.id > abandoned_up_to_;
  }
  if (wanted) {
    StoredSnapshot stored = store(job);
    stored.report.asynchronous_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now() - job.submitted)
                                        .count();
    SLUICE_FAULT_POINT("snapshot.stored-not-acknowledged");
    on_stored_(std::move(stored));
  }
  remove_scratch(job);
}

StoredSnapshot SnapshotWriter::store(Job& job) const {
  StoredSnapshot stored;
  stored.id = job.id;
  stored.task = job.task;
  stored.report = job.report;
  try {
    for (OperatorSnapshotBytes& op : job.operators) {
      StoredOperatorState state{op.name, op.parallelism, {}};
      SubtaskStateHandle& handle = state.handle;
      handle.subtask = op.subtask;
      std::string base = op.name + "-" + std::to_string(op.subtask);
      if (op.keyed) {
        std::string keyed = encode_keyed_snapshot(*op.keyed);
        op.keyed.reset();  // the encoded form alone from here on
        handle.keyed_state = storage_.write_state_file(job.id, base + ".keyed", keyed);
        stored.bytes_written += keyed.size();
        stored.bytes_total += keyed.size();
      }
      if (!op.operator_state.empty()) {
        handle.operator_state = storage_.write_state_file(job.id, base + ".op", op.operator_state);
        stored.bytes_written += op.operator_state.size();
        stored.bytes_total += op.operator_state.size();
      }
      for (const FileToStore& file : op.files.files) {
        stored.bytes_written += storage_.store_file(job.id, file);
        stored.bytes_total += std::filesystem::file_size(file.source);
        (file.shared ? handle.shared_files : handle.files).push_back(file.stored);
      }
      stored.operators.push_back(std::move(state));
    }
  } catch (const std::exception& e) {
    stored.operators.clear();
    stored.error = e.what();
  }
  return stored;
}

void SnapshotWriter::remove_scratch(const Job& job) {
  std::error_code ec;
  for (const OperatorSnapshotBytes& op : job.operators) {
    for (const std::string& dir : op.files.scratch_dirs) std::filesystem::remove_all(dir, ec);
  }
}

}  // namespace sluice
