// The micro-batch half of the checkpoint coordinator (coordinator.h).
#include <algorithm>

#include <fmt/format.h>

#include "runtime/checkpoint/batch_progress.h"
#include "runtime/coordinator/coordinator.h"
#include "runtime/core/fault_injection.h"
#include "runtime/core/logging.h"

namespace sluice {
namespace {

// How long a back-to-back trigger waits before planning again after a
// plan that found nothing to read.
constexpr DurationMs kEmptyPlanPauseMs = 100;

const char* trigger_name(BatchTrigger trigger) {
  switch (trigger) {
    case BatchTrigger::kBackToBack:
      return "back to back";
    case BatchTrigger::kInterval:
      return "interval";
    case BatchTrigger::kOnce:
      return "once";
    case BatchTrigger::kAvailableNow:
      return "available-now";
  }
  return "unknown";
}

}  // namespace

void CheckpointCoordinator::prepare_batches(bool resume) {
  std::lock_guard lock(mutex_);
  if (!batch_log_) return;
  if (!resume) {
    batch_log_->discard_after(last_completed_);
    return;
  }
  replays_ = batch_log_->plans_after(last_completed_);
  if (!replays_.empty()) {
    log::runtime()->info("batches {}..{} were planned but not committed: they run again",
                         replays_.front().id, replays_.back().id);
  }
}

void CheckpointCoordinator::tick_batches(Timestamp now) {
  if (stopped_ || batches_ended_ || !failure_.empty()) return;
  if (pending_ || planning_) {
    Timestamp started = pending_ ? pending_->started_at : planning_->started_at;
    if (now >= started + config_.timeout) {
      fail_batch_locked(fmt::format("batch {} timed out after {}",
                                    pending_ ? pending_->id : planning_->id,
                                    format_duration(config_.timeout)));
    }
    return;
  }
  bool savepoint_asked = !savepoint_requests_.empty();
  if ((now < next_trigger_ && !savepoint_asked) || retention_running_) return;
  if (!replays_.empty()) {
    BatchPlan plan = std::move(replays_.front());
    replays_.erase(replays_.begin());
    run_batch_locked(plan, now, /*replayed=*/true);
    return;
  }
  if (config_.batches.trigger == BatchTrigger::kOnce && last_batch_started_) {
    end_batches_locked("its one batch committed");
    return;
  }
  plan_batch_locked(now);
}

void CheckpointCoordinator::plan_batch_locked(Timestamp now) {
  Planning planning;
  planning.id = next_id_;
  planning.started_at = now;
  planning.replies.resize(tasks_.size());
  planning.inputs.resize(tasks_.size(), SourceInput::kOpen);
  for (const std::string& source : source_of_) planning.missing += source.empty() ? 0 : 1;
  planning_ = std::move(planning);
  Mail mail{MailKind::kPlanBatch, planning_->id};
  mail.max_records = config_.batches.max_records;
  post_sources(mail);
}

void CheckpointCoordinator::accept_slices(int64_t batch, size_t task,
                                          std::vector<SplitSlice> slices, SourceInput input,
                                          bool watermark_moves) {
  std::lock_guard lock(mutex_);
  if (!planning_ || planning_->id != batch || task >= tasks_.size() || source_of_[task].empty() ||
      planning_->replies[task]) {
    return;
  }
  planning_->replies[task] = std::move(slices);
  planning_->inputs[task] = input;
  planning_->watermark_moves |= watermark_moves;
  if (--planning_->missing == 0) finish_planning_locked(clock_.now_ms());
}

void CheckpointCoordinator::finish_planning_locked(Timestamp now) {
  Timestamp started = planning_->started_at;
  BatchPlan plan = merge_replies_locked(now);
  const std::vector<SourceInput> inputs = std::move(planning_->inputs);
  bool watermark_moves = planning_->watermark_moves;
  planning_.reset();
  bool all_ended = true;
  bool ending = false;  // a source's end goes out in the next batch
  for (size_t task = 0; task < tasks_.size(); ++task) {
    if (source_of_[task].empty()) continue;
    all_ended &= inputs[task] == SourceInput::kEnded;
    ending |= inputs[task] == SourceInput::kEnding;
  }
  if (all_ended) {
    end_batches_locked("the input of every source has ended");
    return;
  }
  if (config_.batches.trigger == BatchTrigger::kAvailableNow) cap_to_targets_locked(plan);
  // A batch without data runs when it moves a watermark (a split went idle:
  // windows fire, as in Spark's no-data batches), or to take a savepoint.
  if (!plan.reads_anything() && !ending && !watermark_moves && savepoint_requests_.empty()) {
    if (config_.batches.trigger == BatchTrigger::kOnce ||
        config_.batches.trigger == BatchTrigger::kAvailableNow) {
      end_batches_locked("everything available is committed");
      return;
    }
    next_trigger_ = config_.batches.trigger == BatchTrigger::kInterval ? next_batch_time(started)
                                                                       : now + kEmptyPlanPauseMs;
    return;
  }
  try {
    batch_log_->write_plan(plan);
  } catch (const SluiceError& e) {
    fail_batch_locked(fmt::format("batch {} could not be logged: {}", plan.id, e.what()));
    return;
  }
  last_batch_started_ = true;
  SLUICE_FAULT_POINT("batch.planned-not-run");
  run_batch_locked(plan, started, /*replayed=*/false);
}

// One entry per source, its splits in order.
BatchPlan CheckpointCoordinator::merge_replies_locked(Timestamp now) {
  BatchPlan plan;
  plan.id = planning_->id;
  plan.planned_at = now;
  for (size_t task = 0; task < tasks_.size(); ++task) {
    if (!planning_->replies[task]) continue;
    const std::string& source = source_of_[task];
    auto it = std::find_if(plan.sources.begin(), plan.sources.end(),
                           [&](const SourceSlices& s) { return s.source == source; });
    if (it == plan.sources.end()) it = plan.sources.insert(plan.sources.end(), {source, {}});
    for (SplitSlice& slice : *planning_->replies[task]) it->slices.push_back(slice);
  }
  for (SourceSlices& s : plan.sources) {
    std::sort(s.slices.begin(), s.slices.end(),
              [](const SplitSlice& a, const SplitSlice& b) { return a.split < b.split; });
  }
  return plan;
}

// available-now: the first plan fixes what "available" means; later plans
// never read past it. A split found later has nothing to read.
void CheckpointCoordinator::cap_to_targets_locked(BatchPlan& plan) {
  if (!targets_) {
    targets_.emplace();
    for (const SourceSlices& s : plan.sources) {
      for (const SplitSlice& slice : s.slices) (*targets_)[s.source][slice.split] = slice.available;
    }
  }
  for (SourceSlices& s : plan.sources) {
    const auto& splits = (*targets_)[s.source];
    for (SplitSlice& slice : s.slices) {
      auto target = splits.find(slice.split);
      int64_t cap = target == splits.end() ? slice.start : std::max(slice.start, target->second);
      slice.end = std::min(slice.end, cap);
      if (slice.end < slice.available) slice.ended = false;
    }
  }
}

void CheckpointCoordinator::run_batch_locked(const BatchPlan& plan, Timestamp planning_started,
                                             bool replayed) {
  Timestamp now = clock_.now_ms();
  try {
    storage_.prepare(plan.id);
  } catch (const SluiceError& e) {
    fail_batch_locked(fmt::format("batch {} not started: {}", plan.id, e.what()));
    return;
  }
  Pending p = make_pending(plan.id, now);
  if (std::optional<SavepointRequest> savepoint = next_savepoint_locked()) {
    try {
      set_savepoint_locked(p, *savepoint);
    } catch (const SluiceError& e) {
      savepoint_failed_locked(p, e.what(), /*triggered=*/false);  // the batch runs as a plain one
      p.kind = CheckpointKind::kCheckpoint;
      p.savepoint_path.clear();
    }
  }
  p.planning_started_at = planning_started;
  p.replayed = replayed;
  for (const SourceSlices& source : plan.sources) p.slices[source.source] = source.slices;
  pending_ = std::move(p);
  record_locked(*pending_, CheckpointStatus::kInProgress);
  next_id_ = plan.id + 1;
  log::runtime()->info("batch {} {}", plan.id,
                       replayed ? "runs again with its logged slices" : "planned and logged");
  std::map<std::string, std::shared_ptr<const std::vector<SplitSlice>>> by_source;
  for (size_t i = 0; i < tasks_.size(); ++i) {
    const std::string& source = source_of_[i];
    if (source.empty()) continue;
    auto& slices = by_source[source];
    if (!slices) {
      const std::vector<SplitSlice>* planned = plan.slices_of(source);
      slices = std::make_shared<const std::vector<SplitSlice>>(planned ? *planned
                                                                       : std::vector<SplitSlice>{});
    }
    Mail mail{MailKind::kRunBatch, plan.id};
    mail.slices = slices;
    mail.checkpoint_kind = pending_->kind;
    tasks_[i]->post(mail);
  }
}

void CheckpointCoordinator::record_batch_report(Pending& pending, size_t task,
                                                const SnapshotReport& report) {
  const std::string& source = source_of_[task];
  if (!config_.batches.enabled || source.empty()) return;
  pending.input_rows[source] += report.input_rows;
  if (report.watermark > kMinTimestamp) {
    pending.watermark = std::min(pending.watermark.value_or(kMaxTimestamp), report.watermark);
  }
}

void CheckpointCoordinator::write_commit_record_locked(int64_t id) {
  try {
    batch_log_->write_commit(BatchCommit{id, clock_.now_ms()});
  } catch (const SluiceError& e) {
    // The checkpoint is complete, so the batch is committed: a restore
    // starts after it whatever the commit log says.
    log::runtime()->warn("batch {}: commit record not written: {}", id, e.what());
  }
}

void CheckpointCoordinator::report_batch_locked(const Pending& done, Timestamp commit_started) {
  Timestamp now = clock_.now_ms();
  BatchProgress progress;
  progress.batch = done.id;
  progress.replayed = done.replayed;
  progress.committed_at = now;
  progress.input_rows.assign(done.input_rows.begin(), done.input_rows.end());
  progress.planning_ms = done.started_at - done.planning_started_at;
  progress.processing_ms = commit_started - done.started_at;
  progress.commit_ms = now - commit_started;
  progress.watermark = done.watermark;
  progress.state_bytes = done.bytes_total;
  progress.slices.assign(done.slices.begin(), done.slices.end());
  if (history_) history_->add_batch(progress);
  log::runtime()->info("{}", progress.to_log_line());
  try {
    batch_log_->append_progress(progress.to_json());
  } catch (const SluiceError& e) {
    log::runtime()->warn("batch {}: progress not written: {}", done.id, e.what());
  }
}

Timestamp CheckpointCoordinator::next_batch_time(Timestamp planning_started) const {
  if (config_.batches.trigger == BatchTrigger::kInterval) {
    return std::max(planning_started + config_.batches.interval, clock_.now_ms());
  }
  return clock_.now_ms();
}

void CheckpointCoordinator::end_batches_locked(const std::string& why) {
  batches_ended_ = true;
  log::runtime()->info("trigger {}: {}; the job ends after batch {}",
                       trigger_name(config_.batches.trigger), why, last_completed_);
  post_sources(Mail{MailKind::kEndOfBatches, last_completed_});
}

void CheckpointCoordinator::fail_batch_locked(const std::string& why) {
  if (pending_) record_locked(*pending_, CheckpointStatus::kFailed, why);
  pending_.reset();
  planning_.reset();
  failure_ = why;
  log::runtime()->warn("{}", why);
}

}  // namespace sluice
