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
      next_trigger_(clock.now_ms() + config_.interval) {}

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
  start_locked(now);
}

int64_t CheckpointCoordinator::trigger_now() {
  std::lock_guard lock(mutex_);
  if (pending_ || stopped_) return 0;
  return start_locked(clock_.now_ms()) ? pending_->id : 0;
}

bool CheckpointCoordinator::start_locked(Timestamp now) {
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
    return false;
  }
  pending_ = std::move(p);
  for (size_t i = 0; i < tasks_.size(); ++i) {
    if (is_source_[i]) tasks_[i]->post(Mail{MailKind::kTriggerCheckpoint, pending_->id});
  }
  return true;
}

void CheckpointCoordinator::on_abort(std::function<void(int64_t)> listener) {
  std::lock_guard lock(mutex_);
  abort_listener_ = std::move(listener);
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

void CheckpointCoordinator::acknowledge(StoredSnapshot&& stored) {
  std::lock_guard lock(mutex_);
  if (!pending_ || pending_->id != stored.id || stored.task >= tasks_.size() ||
      pending_->acked[stored.task]) {
    return;
  }
  if (!stored.error.empty()) {
    abort_locked(stored.error);
    return;
  }
  pending_->acked[stored.task] = true;
  ++pending_->acks;
  pending_->bytes_written += stored.bytes_written;
  pending_->bytes_total += stored.bytes_total;
  pending_->longest_synchronous = std::max(pending_->longest_synchronous, stored.synchronous_ms);
  CheckpointMetadata& m = pending_->metadata;
  for (StoredOperatorState& state : stored.operators) {
    OperatorStateHandle* op = nullptr;
    for (OperatorStateHandle& existing : m.operators) {
      if (existing.name == state.name) op = &existing;
    }
    if (op == nullptr) {
      m.operators.push_back(OperatorStateHandle{state.name, state.parallelism, {}});
      op = &m.operators.back();
    }
    op->subtasks.push_back(std::move(state.handle));
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
  if (abort_listener_) abort_listener_(id);
  post_all(Mail{MailKind::kCheckpointAborted, id});
  std::error_code ec;
  std::filesystem::remove_all(storage_.checkpoint_dir(id), ec);
  next_trigger_ = clock_.now_ms() + config_.interval;
}

void CheckpointCoordinator::post_all(Mail mail) {
  for (TaskMailbox* task : tasks_) task->post(mail);
}

}  // namespace sluice
