#include "runtime/coordinator/coordinator.h"

#include <filesystem>
#include <utility>

#include <fmt/format.h>

#include "runtime/core/fault_injection.h"
#include "runtime/core/logging.h"

namespace sluice {
namespace {

// Batches whose log entries are kept, beyond the retained checkpoints.
constexpr int64_t kBatchesLoggedBeyondCheckpoints = 100;
// Failed checkpoints after every input ended before the attempt fails.
constexpr int kMaxFinalCheckpointFailures = 3;

}  // namespace

CheckpointCoordinator::CheckpointCoordinator(CheckpointConfig config, std::string job,
                                             int max_parallelism, KeyHashing key_hashing,
                                             int64_t last_checkpoint_id, const Clock& clock)
    : config_(std::move(config)),
      storage_(config_.directory, job),
      max_parallelism_(max_parallelism),
      key_hashing_(key_hashing),
      clock_(clock),
      next_id_(last_checkpoint_id + 1),
      last_completed_(last_checkpoint_id),
      next_trigger_(clock.now_ms() + (config_.batches.enabled ? 0 : config_.interval)) {
  if (config_.batches.enabled) batch_log_.emplace(storage_.job_dir());
}

size_t CheckpointCoordinator::attach(TaskMailbox* task, const std::string& source) {
  std::lock_guard lock(mutex_);
  tasks_.push_back(task);
  source_of_.push_back(source);
  input_ended_.push_back(false);
  return tasks_.size() - 1;
}

Timestamp CheckpointCoordinator::next_deadline() const {
  std::lock_guard lock(mutex_);
  if (stopped_ || !failure_.empty()) return kMaxTimestamp;
  if (pending_) return pending_->started_at + config_.timeout;
  if (planning_) return planning_->started_at + config_.timeout;
  // After kEndOfBatches nothing happens until every task's input ended.
  if (batches_ended_ && !all_inputs_ended_locked()) return kMaxTimestamp;
  return next_trigger_;
}

void CheckpointCoordinator::tick() {
  std::lock_guard lock(mutex_);
  Timestamp now = clock_.now_ms();
  // Once every task's input ended, micro-batch mode too takes checkpoints
  // until one holds every task's final state.
  if (config_.batches.enabled && !all_inputs_ended_locked()) {
    tick_batches(now);
    return;
  }
  if (stopped_ || !failure_.empty()) return;
  if (pending_) {
    if (now >= pending_->started_at + config_.timeout) {
      abort_locked("timed out after " + format_duration(config_.timeout));
    }
    return;
  }
  bool savepoint_asked = !savepoint_requests_.empty() && !all_inputs_ended_locked();
  if ((now >= next_trigger_ || savepoint_asked) && !retention_running_) {
    std::optional<SavepointRequest> savepoint = next_savepoint_locked();
    start_locked(now, savepoint ? &*savepoint : nullptr);
  }
}

int64_t CheckpointCoordinator::trigger_now() {
  std::lock_guard lock(mutex_);
  if (pending_ || stopped_ || config_.batches.enabled) return 0;
  return start_locked(clock_.now_ms()) ? pending_->id : 0;
}

CheckpointCoordinator::~CheckpointCoordinator() {
  std::lock_guard lock(mutex_);
  if (pending_) record_locked(*pending_, CheckpointStatus::kFailed, "the job's attempt ended");
  for (auto& [number, result] : savepoint_results_) {
    if (!result.done()) result.error = "the job's attempt ended before the savepoint completed";
  }
}

void CheckpointCoordinator::record_history_in(std::shared_ptr<CheckpointHistory> history) {
  std::lock_guard lock(mutex_);
  history_ = std::move(history);
}

void CheckpointCoordinator::record_locked(const Pending& p, CheckpointStatus status,
                                          const std::string& failure) {
  if (!history_) return;
  CheckpointRecord r;
  r.id = p.id;
  r.status = status;
  r.final = p.final && status == CheckpointStatus::kCompleted;
  r.savepoint = is_savepoint(p.kind);
  r.savepoint_path = status == CheckpointStatus::kCompleted ? p.savepoint_path : "";
  r.triggered_at = p.started_at;
  r.ended_at = status == CheckpointStatus::kInProgress ? 0 : clock_.now_ms();
  r.acknowledged = p.acks;
  r.tasks = tasks_.size();
  r.synchronous_ms = p.longest_synchronous;
  r.asynchronous_ms = p.longest_asynchronous;
  r.alignment_ms = p.longest_alignment;
  r.bytes_written = p.bytes_written;
  r.bytes_total = p.bytes_total;
  r.failure = failure;
  history_->update(r);
}

CheckpointCoordinator::Pending CheckpointCoordinator::make_pending(int64_t id,
                                                                   Timestamp now) const {
  Pending p;
  p.id = id;
  p.started_at = now;
  p.acked.assign(tasks_.size(), false);
  p.metadata.id = id;
  p.metadata.job = std::filesystem::path(storage_.job_dir()).filename().string();
  p.metadata.max_parallelism = max_parallelism_;
  p.metadata.key_hashing = key_hashing_;
  return p;
}

bool CheckpointCoordinator::start_locked(Timestamp now, const SavepointRequest* savepoint) {
  if (retention_running_) return false;  // tick() tries again
  Pending p = make_pending(next_id_++, now);
  try {
    if (savepoint != nullptr) set_savepoint_locked(p, *savepoint);
    storage_.prepare(p.id);
  } catch (const SluiceError& e) {
    log::runtime()->warn("checkpoint {} not started: {}", p.id, e.what());
    savepoint_failed_locked(p, e.what(), /*triggered=*/false);
    next_trigger_ = now + config_.interval;
    return false;
  }
  pending_ = std::move(p);
  record_locked(*pending_, CheckpointStatus::kInProgress);
  Mail trigger{MailKind::kTriggerCheckpoint, pending_->id};
  trigger.checkpoint_kind = pending_->kind;
  post_sources(trigger);
  return true;
}

void CheckpointCoordinator::on_abort(std::function<void(int64_t)> listener) {
  std::lock_guard lock(mutex_);
  abort_listener_ = std::move(listener);
}

void CheckpointCoordinator::input_ended(size_t task) {
  std::lock_guard lock(mutex_);
  if (task >= tasks_.size() || input_ended_[task]) return;
  input_ended_[task] = true;
  if (++input_ended_count_ == tasks_.size() && !pending_) next_trigger_ = clock_.now_ms();
}

void CheckpointCoordinator::task_finished(size_t task) {
  std::lock_guard lock(mutex_);
  if (final_completed_) return;
  // Before the final checkpoint a task ends only when the attempt goes
  // down; a checkpoint or batch in flight then runs again after a restart.
  stopped_ = true;
  if (pending_) {
    savepoint_failed_locked(*pending_, "the job's attempt ended", /*triggered=*/true);
    remove_checkpoint_dir_locked(pending_->id);
  }
  pending_.reset();
  planning_.reset();
}

bool CheckpointCoordinator::final_checkpoint_completed() const {
  std::lock_guard lock(mutex_);
  return final_completed_;
}

std::string CheckpointCoordinator::failure() const {
  std::lock_guard lock(mutex_);
  return failure_;
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
  pending_->final &= stored.report.input_ended;
  pending_->bytes_written += stored.bytes_written;
  pending_->bytes_total += stored.bytes_total;
  pending_->longest_synchronous =
      std::max(pending_->longest_synchronous, stored.report.synchronous_ms);
  pending_->longest_alignment = std::max(pending_->longest_alignment, stored.report.alignment_ms);
  pending_->longest_asynchronous =
      std::max(pending_->longest_asynchronous, stored.report.asynchronous_ms);
  record_batch_report(*pending_, stored.task, stored.report);
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
  if (pending_->acks == tasks_.size()) {
    complete_locked();
  } else {
    record_locked(*pending_, CheckpointStatus::kInProgress);
  }
}

void CheckpointCoordinator::complete_locked() {
  Pending done = std::move(*pending_);
  pending_.reset();
  Timestamp commit_started = clock_.now_ms();
  done.metadata.completed_at = commit_started;
  try {
    storage_.complete(done.metadata);
  } catch (const SluiceError& e) {
    record_locked(done, CheckpointStatus::kFailed,
                  std::string("its metadata was not written: ") + e.what());
    savepoint_failed_locked(done, std::string("its metadata was not written: ") + e.what(),
                            /*triggered=*/true);
    if (config_.batches.enabled) {
      fail_batch_locked(fmt::format("batch {} failed to commit: {}", done.id, e.what()));
      return;
    }
    abort_checkpoint_locked(done.id, std::string("its metadata was not written: ") + e.what());
    return;
  }
  last_completed_ = done.id;
  ++completed_;
  probe_.completed.add();
  probe_.last_id.set(done.id);
  probe_.last_duration_ms.set(done.metadata.completed_at - done.started_at);
  probe_.last_bytes_written.set(static_cast<int64_t>(done.bytes_written));
  probe_.last_bytes_total.set(static_cast<int64_t>(done.bytes_total));
  // A savepoint's place goes into its record once it was copied there.
  std::string savepoint_path = std::exchange(done.savepoint_path, "");
  record_locked(done, CheckpointStatus::kCompleted);
  done.savepoint_path = savepoint_path;
  if (is_savepoint(done.kind)) place_savepoint_locked(done);
  // A final checkpoint is no batch: it reads nothing and has no plan.
  if (config_.batches.enabled && !done.final) write_commit_record_locked(done.id);
  SLUICE_FAULT_POINT("checkpoint.complete-tasks-not-notified");
  // A stop savepoint ends the job as a final checkpoint does.
  bool ends_job = done.final || done.kind == CheckpointKind::kStopSavepoint;
  if (ends_job) {
    final_completed_ = true;
    stopped_ = true;
  }
  post_all(
      Mail{ends_job ? MailKind::kFinalCheckpointComplete : MailKind::kCheckpointComplete, done.id});
  if (config_.batches.enabled && !done.final) {
    report_batch_locked(done, commit_started);
  } else {
    log::runtime()->info(
        "{}{} {} complete in {} ms (synchronous part at most {} ms, alignment at most {} "
        "ms): {} bytes written, {} bytes in all{}",
        done.final ? "final " : "", is_savepoint(done.kind) ? "savepoint" : "checkpoint", done.id,
        done.metadata.completed_at - done.started_at, done.longest_synchronous,
        done.longest_alignment, done.bytes_written, done.bytes_total,
        ends_job ? "; the job's output is committed and its tasks end" : "");
  }
  retain_locked();
  if (all_inputs_ended_locked()) {
    next_trigger_ = clock_.now_ms();  // the final checkpoint, at once
  } else {
    next_trigger_ = config_.batches.enabled ? next_batch_time(done.planning_started_at)
                                            : done.started_at + config_.interval;
  }
}

// Keeps the retained checkpoints, and the batch log entries of the batches
// since a while before the oldest of them, on the background thread.
void CheckpointCoordinator::retain_locked() {
  retention_running_ = true;
  background_.post([this, keep = config_.retained] {
    try {
      SLUICE_FAULT_POINT("checkpoint.retention");
      RetentionReport report = storage_.retain(keep);
      for (const std::string& why : report.unreadable) {
        log::runtime()->warn("checkpoint retention keeps every shared file: {}", why);
      }
      if (batch_log_) {
        std::vector<int64_t> kept = storage_.complete_ids();
        if (!kept.empty())
          batch_log_->discard_before(kept.front() - kBatchesLoggedBeyondCheckpoints);
      }
    } catch (const std::exception& e) {
      log::runtime()->warn("checkpoint retention: {}", e.what());
    }
    std::lock_guard lock(mutex_);
    retention_running_ = false;
  });
}

void CheckpointCoordinator::remove_checkpoint_dir_locked(int64_t id) {
  background_.post([dir = storage_.checkpoint_dir(id)] {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  });
}

void CheckpointCoordinator::abort_locked(const std::string& why) {
  record_locked(*pending_, CheckpointStatus::kFailed, why);
  savepoint_failed_locked(*pending_, why, /*triggered=*/true);
  if (config_.batches.enabled) {
    fail_batch_locked(fmt::format("batch {}: {}", pending_->id, why));
    return;
  }
  int64_t id = pending_->id;
  pending_.reset();
  abort_checkpoint_locked(id, why);
}

void CheckpointCoordinator::abort_checkpoint_locked(int64_t id, const std::string& why) {
  log::runtime()->warn("checkpoint {} aborted: {}", id, why);
  probe_.aborted.add();
  if (abort_listener_) abort_listener_(id);
  post_all(Mail{MailKind::kCheckpointAborted, id});
  remove_checkpoint_dir_locked(id);
  next_trigger_ = clock_.now_ms() + config_.interval;
  // The tasks wait for a final checkpoint: one that keeps failing must end
  // the attempt (a restart tries again) rather than keep the job forever.
  if (all_inputs_ended_locked() && ++final_failures_ >= kMaxFinalCheckpointFailures) {
    failure_ = fmt::format("the job's final checkpoint failed {} times; the last time: {}",
                           final_failures_, why);
    log::runtime()->warn("{}", failure_);
  }
}

void CheckpointCoordinator::post_all(Mail mail) {
  for (TaskMailbox* task : tasks_) task->post(mail);
}

void CheckpointCoordinator::post_sources(const Mail& mail) {
  for (size_t i = 0; i < tasks_.size(); ++i) {
    if (!source_of_[i].empty()) tasks_[i]->post(mail);
  }
}

}  // namespace sluice
