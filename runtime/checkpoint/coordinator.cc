#include "runtime/checkpoint/coordinator.h"

#include <filesystem>

#include "runtime/core/logging.h"

namespace sluice {

CheckpointCoordinator::CheckpointCoordinator(CheckpointConfig config, std::string job,
                                             int max_parallelism, int64_t last_checkpoint_id,
                                             const Clock& clock)
    : config_(std::move(config)),
      storage_(config_.directory, job),
      max_parallelism_(max_parallelism),
      clock_(clock),
      next_id_(last_checkpoint_id + 1),
      last_completed_(last_checkpoint_id),
      next_trigger_(clock.now_ms() + config_.interval),
      writer_([this] { write_loop(); }) {}

CheckpointCoordinator::~CheckpointCoordinator() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  work_.notify_all();
  writer_.join();
}

size_t CheckpointCoordinator::attach(TaskMailbox* task, bool is_source) {
  std::lock_guard lock(mutex_);
  tasks_.push_back(task);
  is_source_.push_back(is_source);
  return tasks_.size() - 1;
}

Timestamp CheckpointCoordinator::next_deadline() const {
  std::lock_guard lock(mutex_);
  if (stopped_) return kMaxTimestamp;
  if (pending_) return pending_->started_at + config_.timeout;
  return next_trigger_;
}

void CheckpointCoordinator::tick() {
  std::lock_guard lock(mutex_);
  Timestamp now = clock_.now_ms();
  if (pending_) {
    if (now >= pending_->started_at + config_.timeout) {
      abort_locked("timed out after " + format_duration(config_.timeout));
    }
    return;
  }
  if (stopped_ || now < next_trigger_) return;
  Pending p;
  p.id = next_id_++;
  p.started_at = now;
  p.acked.assign(tasks_.size(), false);
  p.metadata.id = p.id;
  p.metadata.job = std::filesystem::path(storage_.job_dir()).filename().string();
  p.metadata.max_parallelism = max_parallelism_;
  try {
    storage_.prepare(p.id);
  } catch (const SluiceError& e) {
    log::runtime()->warn("checkpoint {} not started: {}", p.id, e.what());
    next_trigger_ = now + config_.interval;
    return;
  }
  pending_ = std::move(p);
  for (size_t i = 0; i < tasks_.size(); ++i) {
    if (is_source_[i]) tasks_[i]->post(Mail{MailKind::kTriggerCheckpoint, pending_->id});
  }
}

void CheckpointCoordinator::submit_snapshot(int64_t id, size_t task,
                                            std::vector<OperatorSnapshotBytes> operators,
                                            DurationMs synchronous_ms) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(WriteJob{id, task, std::move(operators), synchronous_ms});
  }
  work_.notify_one();
}

void CheckpointCoordinator::task_finished(size_t task) {
  std::lock_guard lock(mutex_);
  stopped_ = true;
  if (pending_ && !pending_->acked[task]) abort_locked("a task finished before acknowledging");
}

int64_t CheckpointCoordinator::last_completed() const {
  std::lock_guard lock(mutex_);
  return last_completed_;
}

size_t CheckpointCoordinator::completed_count() const {
  std::lock_guard lock(mutex_);
  return completed_;
}

void CheckpointCoordinator::write_loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    work_.wait(lock, [this] { return closing_ || !queue_.empty(); });
    if (queue_.empty()) return;
    WriteJob job = std::move(queue_.front());
    queue_.pop_front();
    bool wanted = pending_ && pending_->id == job.id;
    lock.unlock();
    if (wanted) write(job);
    remove_scratch(job);
    lock.lock();
  }
}

void CheckpointCoordinator::write(WriteJob& job) {
  std::vector<SubtaskStateHandle> handles;
  StoredSize size;
  size.synchronous_ms = job.synchronous_ms;
  try {
    for (const OperatorSnapshotBytes& op : job.operators) {
      SubtaskStateHandle handle;
      handle.subtask = op.subtask;
      std::string base = op.name + "-" + std::to_string(op.subtask);
      if (op.keyed) {
        handle.keyed_state = storage_.write_state_file(job.id, base + ".keyed", *op.keyed);
        size.written += op.keyed->size();
        size.total += op.keyed->size();
      }
      if (!op.operator_state.empty()) {
        handle.operator_state = storage_.write_state_file(job.id, base + ".op", op.operator_state);
        size.written += op.operator_state.size();
        size.total += op.operator_state.size();
      }
      for (const FileToStore& file : op.files.files) {
        size.written += storage_.store_file(job.id, file);
        size.total += std::filesystem::file_size(file.source);
        (file.shared ? handle.shared_files : handle.files).push_back(file.stored);
      }
      handles.push_back(std::move(handle));
    }
  } catch (const std::exception& e) {
    std::lock_guard lock(mutex_);
    if (pending_ && pending_->id == job.id) abort_locked(e.what());
    return;
  }
  acknowledge(job.id, job.task, std::move(handles), size, job.operators);
}

void CheckpointCoordinator::remove_scratch(const WriteJob& job) {
  std::error_code ec;
  for (const OperatorSnapshotBytes& op : job.operators) {
    for (const std::string& dir : op.files.scratch_dirs) std::filesystem::remove_all(dir, ec);
  }
}

void CheckpointCoordinator::acknowledge(int64_t id, size_t task,
                                        std::vector<SubtaskStateHandle> handles, StoredSize size,
                                        const std::vector<OperatorSnapshotBytes>& operators) {
  std::lock_guard lock(mutex_);
  if (!pending_ || pending_->id != id || pending_->acked[task]) return;
  pending_->acked[task] = true;
  ++pending_->acks;
  pending_->bytes_written += size.written;
  pending_->bytes_total += size.total;
  pending_->longest_synchronous = std::max(pending_->longest_synchronous, size.synchronous_ms);
  for (size_t i = 0; i < operators.size(); ++i) {
    CheckpointMetadata& m = pending_->metadata;
    OperatorStateHandle* op = nullptr;
    for (OperatorStateHandle& existing : m.operators) {
      if (existing.name == operators[i].name) op = &existing;
    }
    if (op == nullptr) {
      m.operators.push_back(OperatorStateHandle{operators[i].name, operators[i].parallelism, {}});
      op = &m.operators.back();
    }
    op->subtasks.push_back(std::move(handles[i]));
  }
  if (pending_->acks == tasks_.size()) complete_locked();
}

void CheckpointCoordinator::complete_locked() {
  Pending done = std::move(*pending_);
  pending_.reset();
  done.metadata.completed_at = clock_.now_ms();
  try {
    storage_.complete(done.metadata);
  } catch (const SluiceError& e) {
    log::runtime()->warn("checkpoint {} failed to complete: {}", done.id, e.what());
    next_trigger_ = clock_.now_ms() + config_.interval;
    return;
  }
  last_completed_ = done.id;
  ++completed_;
  log::runtime()->info(
      "checkpoint {} complete in {} ms (synchronous part at most {} ms): {} bytes written, {} "
      "bytes in all",
      done.id, done.metadata.completed_at - done.started_at, done.longest_synchronous,
      done.bytes_written, done.bytes_total);
  post_all(Mail{MailKind::kCheckpointComplete, done.id});
  try {
    storage_.retain(config_.retained);
  } catch (const std::exception& e) {
    log::runtime()->warn("checkpoint retention: {}", e.what());
  }
  next_trigger_ = done.started_at + config_.interval;
}

void CheckpointCoordinator::abort_locked(const std::string& why) {
  int64_t id = pending_->id;
  pending_.reset();
  log::runtime()->warn("checkpoint {} aborted: {}", id, why);
  post_all(Mail{MailKind::kCheckpointAborted, id});
  std::error_code ec;
  std::filesystem::remove_all(storage_.checkpoint_dir(id), ec);
  next_trigger_ = clock_.now_ms() + config_.interval;
}

void CheckpointCoordinator::post_all(Mail mail) {
  for (TaskMailbox* task : tasks_) task->post(mail);
}

}  // namespace sluice
