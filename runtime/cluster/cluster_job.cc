#include "runtime/cluster/cluster_job.h"

#include <algorithm>

#include <fmt/format.h>

#include "runtime/checkpoint/restore.h"
#include "runtime/cluster/deployed_attempt.h"
#include "runtime/cluster/messages.h"
#include "runtime/core/logging.h"
#include "runtime/job/job_setup.h"

namespace sluice {
namespace {

// The coordinator's view of a task in a task manager: mails become messages.
class RemoteTaskMailbox final : public TaskMailbox {
 public:
  RemoteTaskMailbox(std::shared_ptr<ControlConnection> connection, std::string job, int attempt,
                    size_t task)
      : connection_(std::move(connection)), job_(std::move(job)), attempt_(attempt), task_(task) {}

  void post(Mail mail) override {
    pb::Envelope envelope;
    pb::CheckpointMail& m = *envelope.mutable_checkpoint_mail();
    m.set_job(job_);
    m.set_attempt(attempt_);
    m.set_task(static_cast<int32_t>(task_));
    m.set_kind(mail_kind_message(mail.kind));
    m.set_checkpoint(mail.checkpoint);
    m.set_max_records(mail.max_records);
    m.set_checkpoint_kind(static_cast<pb::CheckpointKindMessage>(mail.checkpoint_kind));
    if (mail.slices) add_slices(*mail.slices, m.mutable_slices());
    connection_->send(envelope);
  }

 private:
  std::shared_ptr<ControlConnection> connection_;
  std::string job_;
  int attempt_;
  size_t task_;
};

void send_job_status(const std::shared_ptr<ControlConnection>& client, pb::JobStatus status) {
  pb::Envelope envelope;
  *envelope.mutable_job_status() = std::move(status);
  client->send(envelope);
}

}  // namespace

const char* job_state_name(JobState state) {
  switch (state) {
    case JobState::kWaiting:
      return "waiting";
    case JobState::kRunning:
      return "running";
    case JobState::kFinished:
      return "finished";
    case JobState::kFailed:
      return "failed";
    case JobState::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

ClusterJob::ClusterJob(std::string id, uint32_t number, pb::JobSpec spec,
                       const std::string& default_root, ClusterView& cluster)
    : id_(std::move(id)),
      number_(number),
      spec_(std::move(spec)),
      options_(job_run_options(spec_, default_root)),
      cluster_(cluster),
      layout_(lay_out_job(options_)),
      submitted_at_(SystemClock::instance().now_ms()),
      default_root_(default_root) {}

ClusterJob::~ClusterJob() = default;

void ClusterJob::resume_after(int attempt) {
  attempt_ = attempt;
  log::cluster()->warn("resuming job {} after attempt {}", id_, attempt);
}

// A stopped attempt's slots stay taken until its task manager has stopped it.
int ClusterJob::slots_on(const std::string& task_manager) const {
  bool held = state_ == JobState::kRunning || stopping_.count(task_manager) > 0;
  if (!held) return 0;
  return static_cast<int>(std::count(slot_owner_.begin(), slot_owner_.end(), task_manager));
}

void ClusterJob::step() {
  if (state_ == JobState::kWaiting && stopping_.empty() &&
      ClusterJob::Clock::now() >= not_before_) {
    std::vector<std::string> owners = place_slots(layout_.slots, cluster_.free_slots());
    if (!owners.empty()) deploy(owners);
  }
  if (state_ != JobState::kRunning) return;
  if (finished_.size() == layout_.all_tasks.size()) {
    end_finished_attempt();  // its savepoint was still being copied
    return;
  }
  if (started_.size() == layout_.all_tasks.size() && !all_running_logged_) {
    all_running_logged_ = true;
    // Known only when this job manager saw the last attempt fail (not
    // after it resumed the job from its record).
    std::string since;
    if (attempt_failed_at_) {
      since = fmt::format(
          " ({} ms after the last attempt failed)",
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - *attempt_failed_at_)
              .count());
    }
    log::cluster()->info("job {} attempt {}: all {} tasks running{}", id_, attempt_,
                         layout_.all_tasks.size(), since);
    report_rescaled();
  }
  if (coordinator_ && all_running_logged_) coordinator_->tick();
  if (std::string failure = coordinator_ ? coordinator_->failure() : ""; !failure.empty()) {
    fail_attempt(ErrorKind::kExternal, failure);
    return;
  }
  answer_checkpoint_requests();
}

void ClusterJob::deploy(const std::vector<std::string>& owners) {
  ++attempt_;
  task_rates_.clear();
  attempt_counters_.clear();
  started_.clear();
  finished_.clear();
  all_running_logged_ = false;
  RestoreChoice restore;
  try {
    restore = restore_for_attempt();
  } catch (const SluiceError& e) {
    error_kind_ = e.kind();
    note_exception(e.kind(), e.what(), "");
    end(JobState::kFailed, e.what());
    return;
  } catch (const std::exception& e) {
    error_kind_ = ErrorKind::kExternal;
    note_exception(ErrorKind::kExternal, e.what(), "");
    end(JobState::kFailed, e.what());
    return;
  }
  slot_owner_ = owners;
  attempt_stopped_ = true;  // nothing to stop until it is deployed
  try {
    // A restarted job manager must not reuse this attempt's number.
    record();
  } catch (const SluiceError& e) {
    fail_attempt(e.kind(), e.what());
    return;
  }
  try {
    start_coordinator(restore);
  } catch (const SluiceError& e) {
    error_kind_ = e.kind();
    note_exception(e.kind(), e.what(), "");
    end(JobState::kFailed, e.what());
    return;
  }
  attempt_stopped_ = false;
  send_deployment(owners, restore.path, restore.checkpoint);
  state_ = JobState::kRunning;
  message_.clear();  // why it waited: the exceptions keep the failure
}

// The first attempt restores what the job was submitted to restore; later
// ones the job's latest complete checkpoint, or, before it has one, again
// what it was submitted to restore.
ClusterJob::RestoreChoice ClusterJob::restore_for_attempt() {
  CheckpointStorage storage(options_.checkpoint.directory, id_);
  if (attempt_ > 0 || options_.restore == "latest") {
    std::vector<std::string> warnings;
    std::optional<CheckpointMetadata> latest;
    if (!options_.checkpoint.directory.empty()) latest = storage.latest(warnings);
    for (const std::string& w : warnings) log::cluster()->warn("{}", w);
    if (latest) {
      log::cluster()->info("job {} attempt {}: restoring checkpoint {}", id_, attempt_, latest->id);
      check_restorable(*latest, storage.checkpoint_dir(latest->id));
      return RestoreChoice{storage.checkpoint_dir(latest->id), latest->id, latest->key_hashing};
    }
    if (options_.restore == "latest") {
      throw InputError("no complete checkpoint to restore in " + storage.job_dir());
    }
  }
  if (options_.restore.empty()) return RestoreChoice{"", 0, options_.plan.key_hashing};
  CheckpointMetadata restored = storage.load(options_.restore);
  log::cluster()->info("job {} attempt {}: restoring checkpoint {} from {}", id_, attempt_,
                       restored.id, options_.restore);
  check_restorable(restored, options_.restore);
  return RestoreChoice{options_.restore, restored.id, restored.key_hashing};
}

// State of an operator the topology no longer has is refused, unless the
// job was told to drop it.
void ClusterJob::check_restorable(const CheckpointMetadata& metadata,
                                  const std::string& where) const {
  std::vector<std::string> operators;
  for (const PlannedVertex& vertex : layout_.vertices) {
    operators.insert(operators.end(), vertex.operators.begin(), vertex.operators.end());
  }
  std::vector<std::string> dropped = operators_not_restored(metadata, operators);
  if (dropped.empty()) return;
  std::string names;
  for (const std::string& name : dropped) names += (names.empty() ? "'" : ", '") + name + "'";
  if (!options_.allow_non_restored_state) {
    throw UsageError(fmt::format(
        "checkpoint {} ({}) holds the state of {} {}, which the topology {} no longer has; "
        "restore with --allow-non-restored-state to drop that state",
        metadata.id, where, dropped.size() == 1 ? "operator" : "operators", names,
        spec_.topology()));
  }
  log::cluster()->warn(
      "job {}: dropping the state of {} from checkpoint {} "
      "(--allow-non-restored-state)",
      id_, names, metadata.id);
}

void ClusterJob::release_coordinator() {
  if (coordinator_) {
    checkpoints_completed_ = static_cast<int64_t>(coordinator_->completed_count());
    last_checkpoint_ = coordinator_->last_completed();
  }
  coordinator_.reset();
  mailboxes_.clear();
}

void ClusterJob::start_coordinator(const RestoreChoice& restore) {
  release_coordinator();
  if (!options_.checkpoint.enabled()) return;
  coordinator_ = std::make_unique<CheckpointCoordinator>(
      options_.checkpoint, id_, options_.plan.max_parallelism, restore.key_hashing,
      restore.checkpoint, SystemClock::instance());
  coordinator_->on_abort([this](int64_t id) { aborted_.insert(id); });
  coordinator_->record_history_in(history_);
  for (size_t i = 0; i < layout_.all_tasks.size(); ++i) {
    const PlannedTask& task = layout_.all_tasks[i];
    auto connection = cluster_.connection(slot_owner_.at(static_cast<size_t>(task.subtask)));
    mailboxes_.push_back(std::make_unique<RemoteTaskMailbox>(connection, id_, attempt_, i));
    coordinator_->attach(mailboxes_.back().get(), task.source);
  }
  // A restarted or restoring attempt runs the batches planned after its
  // checkpoint again.
  coordinator_->prepare_batches(attempt_ > 0 || !options_.restore.empty());
}

void ClusterJob::send_deployment(const std::vector<std::string>& owners,
                                 const std::string& restore_path, int64_t last_checkpoint) {
  pb::Envelope envelope;
  pb::DeployTasks& deploy = *envelope.mutable_deploy_tasks();
  deploy.set_job(id_);
  deploy.set_attempt(attempt_);
  deploy.set_job_number(number_);
  *deploy.mutable_spec() = spec_;
  deploy.set_checkpoint_root(options_.checkpoint.directory);
  deploy.set_restore_path(restore_path);
  deploy.set_last_checkpoint_id(last_checkpoint);
  std::set<std::string> distinct(owners.begin(), owners.end());
  for (const std::string& owner : owners) deploy.add_slot_owner(owner);
  for (const std::string& tm : distinct) *deploy.add_peers() = cluster_.peer(tm);
  log::cluster()->info("job {} attempt {}: deploying {} tasks in {} slots on {} task managers{}",
                       id_, attempt_, layout_.all_tasks.size(), owners.size(), distinct.size(),
                       restore_path.empty() ? std::string() : ", restoring " + restore_path);
  for (const std::string& tm : distinct) {
    if (auto connection = cluster_.connection(tm)) connection->send(envelope);
  }
}

bool ClusterJob::runs_on(size_t task, const std::string& task_manager) const {
  if (task >= layout_.all_tasks.size()) return false;
  auto slot = static_cast<size_t>(layout_.all_tasks[task].subtask);
  return slot < slot_owner_.size() && slot_owner_[slot] == task_manager;
}

void ClusterJob::on_task_status(const std::string& task_manager, const pb::TaskStatus& status) {
  if (status.attempt() != attempt_ || state_ != JobState::kRunning) {
    if (status.state() == pb::TASK_CANCELLED) stopping_.erase(task_manager);
    return;
  }
  auto task = static_cast<size_t>(status.task());
  bool part_of_attempt =
      std::find(slot_owner_.begin(), slot_owner_.end(), task_manager) != slot_owner_.end();
  bool accepted = status.state() == pb::TASK_FAILED ? part_of_attempt : runs_on(task, task_manager);
  if (status.state() != pb::TASK_CANCELLED && !accepted) {
    log::cluster()->warn("job {}: task manager {} reported task {}, which it does not run", id_,
                         task_manager, task);
    return;
  }
  switch (status.state()) {
    case pb::TASK_RUNNING:
      started_.insert(task);
      break;
    case pb::TASK_INPUT_ENDED:
      started_.insert(task);
      if (coordinator_) coordinator_->input_ended(task);
      break;
    case pb::TASK_FINISHED:
      started_.insert(task);
      if (finished_.insert(task).second && coordinator_) coordinator_->task_finished(task);
      if (finished_.size() == layout_.all_tasks.size()) end_finished_attempt();
      break;
    case pb::TASK_FAILED:
      fail_attempt(error_kind_of(status), status.message(), "", task_manager);
      break;
    default:
      stopping_.erase(task_manager);
      break;
  }
}

void ClusterJob::on_checkpoint_ack(const std::string& task_manager, const pb::CheckpointAck& ack) {
  if (ack.attempt() != attempt_ || !coordinator_) return;
  if (!runs_on(static_cast<size_t>(ack.task()), task_manager)) return;
  coordinator_->acknowledge(from_checkpoint_ack(ack));
  last_checkpoint_ = coordinator_->last_completed();
}

void ClusterJob::on_batch_slices(const std::string& task_manager, const pb::BatchSlices& slices) {
  if (slices.attempt() != attempt_ || !coordinator_) return;
  if (!runs_on(static_cast<size_t>(slices.task()), task_manager)) return;
  coordinator_->accept_slices(slices.batch(), static_cast<size_t>(slices.task()),
                              slices_of(slices.slices()), static_cast<SourceInput>(slices.input()),
                              slices.watermark_moves());
}

void ClusterJob::on_task_metrics(const std::string& task_manager, const pb::TaskMetrics& m) {
  if (m.attempt() != attempt_ || state_ != JobState::kRunning) return;
  auto task = static_cast<size_t>(m.task());
  if (!runs_on(task, task_manager)) return;
  TaskReading reading{
      m.records_in(), m.records_out(), m.idle_us(), m.backpressured_us(),
      m.has_watermark() ? std::optional<Timestamp>(m.input_watermark()) : std::nullopt};
  task_rates_[task].update(reading, TaskRateTracker::Clock::now());
}

void ClusterJob::on_attempt_metrics(const std::string& task_manager, const pb::AttemptMetrics& m) {
  if (m.attempt() != attempt_ || state_ != JobState::kRunning) return;
  if (std::find(slot_owner_.begin(), slot_owner_.end(), task_manager) == slot_owner_.end()) return;
  attempt_counters_[task_manager] = m;
}

std::string ClusterJob::task_status(size_t task) const {
  if (state_ != JobState::kRunning) return job_state_name(state_);
  if (finished_.count(task) > 0) return "finished";
  return started_.count(task) > 0 ? "running" : "deploying";
}

uint64_t ClusterJob::summed(uint64_t (pb::AttemptMetrics::*counter)() const) const {
  uint64_t sum = 0;
  for (const auto& [tm, counters] : attempt_counters_) sum += (counters.*counter)();
  return sum;
}

std::string ClusterJob::task_manager_of(size_t task) const {
  if (task >= layout_.all_tasks.size()) return "";
  auto slot = static_cast<size_t>(layout_.all_tasks[task].subtask);
  return slot < slot_owner_.size() ? slot_owner_[slot] : "";
}

void ClusterJob::on_task_manager_lost(const std::string& task_manager, const std::string& reason,
                                      DurationMs hold_off) {
  auto hold = [&] {
    not_before_ = std::max(not_before_, Clock::now() + std::chrono::milliseconds(hold_off));
  };
  // It may still be stopping the last attempt.
  if (stopping_.erase(task_manager) > 0) hold();
  if (state_ != JobState::kRunning || slots_on(task_manager) == 0) return;
  fail_attempt(ErrorKind::kExternal, fmt::format("task manager {} lost: {}", task_manager, reason),
               task_manager);
  hold();
}

void ClusterJob::note_exception(ErrorKind kind, const std::string& message,
                                const std::string& where) {
  exceptions_.push_front(
      JobException{SystemClock::instance().now_ms(), std::max(attempt_, 0), where, message, kind});
  if (exceptions_.size() > kExceptionsKept) exceptions_.pop_back();
}

void ClusterJob::fail_attempt(ErrorKind kind, const std::string& message, const std::string& lost,
                              const std::string& where) {
  attempt_failed_at_ = Clock::now();
  error_kind_ = kind;
  note_exception(kind, message, where.empty() ? lost : where);
  log::cluster()->warn("job {} attempt {} failed: {}", id_, attempt_, message);
  // A stop whose savepoint completed (its copy may still be under way).
  std::string stopped_in;
  if (coordinator_ && coordinator_->final_checkpoint_completed() &&
      (ending_savepoint_ != 0 || !ending_savepoint_path_.empty())) {
    stopped_in = coordinator_->checkpoint_dir(coordinator_->last_completed());
  }
  stop_attempt(lost);
  if (ending_savepoint_path_.empty()) ending_savepoint_path_ = stopped_in;
  if (!ending_savepoint_path_.empty()) {
    ending_savepoint_ = 0;
    // The stop's savepoint completed before the failure: the job stopped
    // (a restart would run it on); what the sinks did not commit yet, a
    // restore from the savepoint commits.
    if (rescale_to_ != 0) return resume_rescaled();
    end(JobState::kFinished, fmt::format("stopped with a savepoint in {} (ending it failed: {})",
                                         ending_savepoint_path_, message));
    return;
  }
  abandon_stop("its attempt failed: " + message);
  const RestartStrategy& strategy = options_.restart;
  if (!strategy.allows_restart(kind, restarts_)) {
    end(JobState::kFailed, message);
    return;
  }
  ++restarts_;
  DurationMs delay = strategy.delay_before(restarts_);
  not_before_ = Clock::now() + std::chrono::milliseconds(delay);
  state_ = JobState::kWaiting;
  message_ = message;
  log::cluster()->warn("job {}: restart {} of {} in {}, once {} slots are free", id_, restarts_,
                       strategy.max_attempts, format_duration(delay), layout_.slots);
}

// Cancels the current attempt on every live task manager that runs part of
// it; the next attempt waits until they have all stopped.
void ClusterJob::refuse_checkpoint_requests(const std::string& why) {
  for (const CheckpointRequest& request : checkpoint_requests_) {
    if (request.savepoint != 0) {
      CheckpointCoordinator::SavepointResult refused;
      refused.error = why;
      note_savepoint_outcome(request.number, refused);
      if (!request.client) continue;
    }
    pb::Envelope reply;
    reply.mutable_checkpoint_reply()->set_job(id_);
    reply.mutable_checkpoint_reply()->set_error(why);
    request.client->send(reply);
  }
  checkpoint_requests_.clear();
}

void ClusterJob::stop_attempt(const std::string& lost) {
  if (attempt_stopped_) return;
  attempt_stopped_ = true;
  answer_checkpoint_requests();  // those the attempt completed
  release_coordinator();
  refuse_checkpoint_requests("the job's attempt ended before the checkpoint completed");
  pb::Envelope envelope;
  envelope.mutable_cancel_tasks()->set_job(id_);
  envelope.mutable_cancel_tasks()->set_attempt(attempt_);
  for (const std::string& tm : std::set<std::string>(slot_owner_.begin(), slot_owner_.end())) {
    if (tm == lost) continue;
    if (auto connection = cluster_.connection(tm)) {
      connection->send(envelope);
      stopping_.insert(tm);
    }
  }
}

void ClusterJob::cancel() {
  if (ended()) return;
  stop_attempt("");
  end(JobState::kCancelled, "cancelled");
}

void ClusterJob::end(JobState state, const std::string& message) {
  if (state != JobState::kFinished) stop_attempt("");  // idempotent
  answer_checkpoint_requests();                        // those the attempt completed
  release_coordinator();
  refuse_checkpoint_requests(
      fmt::format("the job {} before the checkpoint completed", job_state_name(state)));
  state_ = state;
  message_ = message;
  if (message_.empty() && !ending_savepoint_path_.empty()) {
    message_ = "stopped with a savepoint in " + ending_savepoint_path_;
  }
  ended_at_ = SystemClock::instance().now_ms();
  log::cluster()->log(state == JobState::kFailed ? spdlog::level::warn : spdlog::level::info,
                      "job {} {}{}", id_, job_state_name(state),
                      message_.empty() ? std::string() : ": " + message_);
  waiters_.insert(waiters_.end(), stop_clients_.begin(), stop_clients_.end());
  waiters_.insert(waiters_.end(), rescale_clients_.begin(), rescale_clients_.end());
  stop_clients_.clear();
  rescale_clients_.clear();
  for (const auto& client : waiters_) send_job_status(client, status());
  waiters_.clear();
  try {
    record();
  } catch (const SluiceError& e) {
    // The job has ended either way; a restarted job manager would resume it
    // from its latest checkpoint, whose sources have ended too.
    log::cluster()->error("{}; a restarted job manager would resume it", e.what());
  }
}

int64_t ClusterJob::trigger_checkpoint(std::string& why) {
  int64_t id = 0;
  if (state_ != JobState::kRunning || !coordinator_ || !all_running_logged_) {
    why = coordinator_ || state_ != JobState::kRunning
              ? fmt::format("job {} is {}, not running all its tasks", id_, job_state_name(state_))
              : fmt::format("job {} has no checkpoint storage and interval", id_);
  } else if ((id = coordinator_->trigger_now()) == 0) {
    why = fmt::format("job {}: a checkpoint or its cleanup is in progress, or the job is ending",
                      id_);
  }
  return id;
}

bool ClusterJob::drain(std::string& why, const std::string& savepoint_dir,
                       const std::shared_ptr<ControlConnection>& client) {
  if (state_ != JobState::kRunning || !all_running_logged_) {
    why = fmt::format("job {} is {}, not running all its tasks", id_, job_state_name(state_));
  } else if (!coordinator_) {
    why = fmt::format(
        "job {} has no checkpoints: a drain commits its output through the final "
        "checkpoint",
        id_);
  } else if (draining_ || ending_savepoint_ != 0) {
    why = fmt::format("job {} is {} already", id_, draining_ ? "draining" : "stopping");
  } else {
    log::cluster()->info("job {} attempt {}: draining its sources", id_, attempt_);
    draining_ = true;
    if (client) stop_clients_.push_back(client);
    if (!savepoint_dir.empty()) {
      ending_savepoint_ =
          coordinator_->take_final_savepoint_into(savepoint_dir_or_default(savepoint_dir));
    }
    for (size_t i = 0; i < layout_.all_tasks.size(); ++i) {
      if (layout_.all_tasks[i].is_source) mailboxes_.at(i)->post(Mail{MailKind::kDrainSource, 0});
    }
    return true;
  }
  return false;
}

void ClusterJob::request_checkpoint(const std::shared_ptr<ControlConnection>& client) {
  std::string why;
  if (int64_t id = trigger_checkpoint(why); id != 0) {
    checkpoint_requests_.push_back(CheckpointRequest{id, client});
    return;
  }
  pb::Envelope reply;
  pb::CheckpointReply& r = *reply.mutable_checkpoint_reply();
  r.set_job(id_);
  r.set_error(why);
  client->send(reply);
}

std::string ClusterJob::savepoint_refusal() const {
  if (state_ != JobState::kRunning || !all_running_logged_) {
    return fmt::format("job {} is {}, not running all its tasks", id_, job_state_name(state_));
  }
  if (!coordinator_) {
    return fmt::format("job {} has no checkpoint storage and interval, which savepoints need", id_);
  }
  if (ending_savepoint_ != 0 || draining_) {
    return fmt::format("job {} is {}", id_, draining_ ? "draining" : "stopping");
  }
  return "";
}

std::string ClusterJob::savepoint_dir_or_default(const std::string& directory) const {
  if (!directory.empty()) return directory;
  return options_.checkpoint.directory + "/savepoints";
}

uint64_t ClusterJob::request_savepoint(const std::string& directory,
                                       const std::shared_ptr<ControlConnection>& client,
                                       std::string& why) {
  why = savepoint_refusal();
  if (!why.empty()) return 0;
  uint64_t request = coordinator_->request_savepoint(CheckpointKind::kSavepoint,
                                                     savepoint_dir_or_default(directory));
  uint64_t number = ++savepoints_requested_;
  checkpoint_requests_.push_back(CheckpointRequest{0, client, request, number});
  note_savepoint_outcome(number, {});
  log::cluster()->info("job {}: savepoint {} requested", id_, number);
  return number;
}

void ClusterJob::note_savepoint_outcome(uint64_t number,
                                        CheckpointCoordinator::SavepointResult result) {
  savepoint_outcomes_[number] = std::move(result);
  while (savepoint_outcomes_.size() > kSavepointOutcomesKept) {
    savepoint_outcomes_.erase(savepoint_outcomes_.begin());
  }
}

std::optional<CheckpointCoordinator::SavepointResult> ClusterJob::savepoint_outcome(
    uint64_t request) const {
  auto it = savepoint_outcomes_.find(request);
  if (it == savepoint_outcomes_.end()) return std::nullopt;
  return it->second;
}

bool ClusterJob::stop_with_savepoint(const std::string& directory,
                                     const std::shared_ptr<ControlConnection>& client,
                                     std::string& why) {
  why = savepoint_refusal();
  if (!why.empty()) return false;
  if (client) stop_clients_.push_back(client);
  ending_savepoint_ = coordinator_->request_savepoint(CheckpointKind::kStopSavepoint,
                                                      savepoint_dir_or_default(directory));
  log::cluster()->info("job {} attempt {}: stopping with a savepoint", id_, attempt_);
  return true;
}

bool ClusterJob::rescale(int parallelism, const std::shared_ptr<ControlConnection>& client,
                         std::string& why) {
  if (parallelism < 1 || parallelism > options_.plan.max_parallelism) {
    why = fmt::format("job {}: a parallelism of {} is not between 1 and its {} key groups", id_,
                      parallelism, options_.plan.max_parallelism);
    return false;
  }
  if (!stop_with_savepoint("", client, why)) return false;
  rescale_to_ = parallelism;
  rescale_asked_at_ = Clock::now();
  log::cluster()->info("job {}: rescaling to parallelism {}", id_, parallelism);
  return true;
}

// Every task ended after the stop's savepoint: the next attempt restores
// it (the job's latest checkpoint, in the portable form) at the new
// parallelism, with the job's other options as they were.
void ClusterJob::resume_rescaled() {
  int parallelism = std::exchange(rescale_to_, 0);
  answer_checkpoint_requests();
  release_coordinator();
  attempt_stopped_ = true;
  rescaled_from_ = std::exchange(ending_savepoint_path_, "");
  rescale_clients_.insert(rescale_clients_.end(), stop_clients_.begin(), stop_clients_.end());
  stop_clients_.clear();
  pb::JobSpec rescaled = spec_;
  rescaled.add_args("--parallelism");
  rescaled.add_args(std::to_string(parallelism));
  try {
    RunOptions options = job_run_options(rescaled, default_root_);
    ExecutionPlan layout = lay_out_job(options);
    spec_ = std::move(rescaled);
    options_ = std::move(options);
    layout_ = std::move(layout);
  } catch (const SluiceError& e) {
    end(JobState::kFailed, fmt::format("the job stopped with a savepoint in {} but cannot run at "
                                       "parallelism {}: {}",
                                       rescaled_from_, parallelism, e.what()));
    return;
  }
  state_ = JobState::kWaiting;
  not_before_ = Clock::now();
  try {
    record();
  } catch (const SluiceError& e) {
    log::cluster()->error("{}; a restarted job manager would resume it as it was", e.what());
  }
}

// Every task of the attempt ended: the job finished, or stopped, or goes
// on rescaled. A stop's savepoint may still be on its way to its place.
void ClusterJob::end_finished_attempt() {
  track_ending_savepoint();
  if (ending_savepoint_ != 0) return;  // step() comes back once it is there
  if (rescale_to_ != 0 && !ending_savepoint_path_.empty()) {
    resume_rescaled();
  } else {
    end(JobState::kFinished, "");
  }
}

void ClusterJob::abandon_stop(const std::string& why) {
  draining_ = false;
  rescale_to_ = 0;
  ending_savepoint_ = 0;
  if (stop_clients_.empty() && rescale_clients_.empty()) return;
  pb::Envelope reply;
  reply.mutable_error_reply()->set_message(
      fmt::format("job {} did not stop: {}; it goes on", id_, why));
  for (const auto& client : stop_clients_) client->send(reply);
  for (const auto& client : rescale_clients_) client->send(reply);
  stop_clients_.clear();
  rescale_clients_.clear();
}

void ClusterJob::report_rescaled() {
  if (rescale_clients_.empty()) return;
  auto idle_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - rescale_asked_at_)
          .count();
  std::string message =
      fmt::format("rescaled to parallelism {} from savepoint {}; not processing for at most {} ms",
                  options_.plan.parallelism, rescaled_from_, idle_ms);
  log::cluster()->info("job {} {}", id_, message);
  pb::Envelope reply;
  pb::JobStatus& status = *reply.mutable_job_status();
  status = this->status();
  status.set_message(message);
  for (const auto& client : rescale_clients_) client->send(reply);
  rescale_clients_.clear();
}

void ClusterJob::track_ending_savepoint() {
  if (ending_savepoint_ == 0 || !coordinator_) return;
  CheckpointCoordinator::SavepointResult result = coordinator_->savepoint_result(ending_savepoint_);
  if (!result.done()) return;
  ending_savepoint_ = 0;
  if (!result.path.empty()) {  // complete, even if its copy failed (error says so)
    ending_savepoint_path_ = result.path;
    return;
  }
  log::cluster()->warn("job {}: {}", id_, result.error);
  // A failed stop fails the attempt (the coordinator's failure()); its
  // clients hear it and the job goes on after the restart.
  abandon_stop(result.error);
}

void ClusterJob::answer_checkpoint_requests() {
  if (!coordinator_) return;
  track_ending_savepoint();
  int64_t completed = coordinator_->last_completed();
  last_checkpoint_ = completed;
  auto answered = [&](const CheckpointRequest& request) {
    if (request.savepoint != 0) {
      CheckpointCoordinator::SavepointResult result =
          coordinator_->savepoint_result(request.savepoint);
      if (!result.done()) return false;
      note_savepoint_outcome(request.number, result);
      if (!request.client) return true;
      pb::Envelope reply;
      pb::CheckpointReply& r = *reply.mutable_checkpoint_reply();
      r.set_job(id_);
      r.set_checkpoint(result.id);
      r.set_path(result.path);
      r.set_error(result.error);
      request.client->send(reply);
      return true;
    }
    bool done = completed >= request.id;
    bool aborted = aborted_.count(request.id) > 0;
    if (!done && !aborted) return false;
    pb::Envelope reply;
    pb::CheckpointReply& r = *reply.mutable_checkpoint_reply();
    r.set_job(id_);
    r.set_checkpoint(request.id);
    if (done) r.set_path(coordinator_->checkpoint_dir(request.id));
    if (!done) r.set_error(fmt::format("checkpoint {} was aborted", request.id));
    request.client->send(reply);
    return true;
  };
  checkpoint_requests_.erase(
      std::remove_if(checkpoint_requests_.begin(), checkpoint_requests_.end(), answered),
      checkpoint_requests_.end());
}

void ClusterJob::add_waiter(const std::shared_ptr<ControlConnection>& client) {
  if (ended()) {
    send_job_status(client, status());
  } else {
    waiters_.push_back(client);
  }
}

pb::JobStatus ClusterJob::status() const {
  pb::JobStatus status;
  status.set_job(id_);
  status.set_state(job_state_name(state_));
  status.set_message(message_);
  status.set_error_kind(static_cast<int32_t>(error_kind_));
  status.set_checkpoints_completed(checkpoints_completed_);
  status.set_last_checkpoint(last_checkpoint_);
  status.set_restarts(restarts_);
  status.set_savepoint(ending_savepoint_path_);
  return status;
}

pb::JobInfo ClusterJob::info() const {
  pb::JobInfo info;
  info.set_job(id_);
  info.set_topology(spec_.topology());
  info.set_state(job_state_name(state_));
  info.set_attempt(attempt_);
  info.set_last_checkpoint(last_checkpoint_);
  info.set_message(message_);
  return info;
}

void ClusterJob::record() {
  pb::StoredJob stored;
  stored.set_job(id_);
  stored.set_job_number(number_);
  *stored.mutable_spec() = spec_;
  stored.set_state(job_state_name(state_));
  stored.set_attempt(attempt_);
  stored.set_message(message_);
  cluster_.persist(stored);
}

}  // namespace sluice
