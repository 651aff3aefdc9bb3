#include "runtime/cluster/deployed_attempt.h"

#include <algorithm>
#include <limits>
#include <map>

#include "runtime/cli/run_options.h"
#include "runtime/cluster/messages.h"
#include "runtime/core/logging.h"
#include "state/key_groups.h"

namespace sluice {

RunOptions job_run_options(const pb::JobSpec& spec, const std::string& checkpoint_root) {
  std::vector<std::string> args{spec.topology()};
  args.insert(args.end(), spec.args().begin(), spec.args().end());
  // The job manager's storage, unless the job names its own.
  bool own = std::any_of(args.begin(), args.end(),
                         [](const std::string& a) { return a.rfind("--checkpoint-dir", 0) == 0; });
  if (!own && !checkpoint_root.empty()) args.push_back("--checkpoint-dir=" + checkpoint_root);
  RunOptions options = parse_run_options(args);
  if (options.help) throw UsageError("--help is not a job option");
  return options;
}

namespace {

// Keyed state this task manager needs: that of old subtasks whose key
// groups overlap those of a subtask of the same operator placed here.
KeyedStateWanted local_key_groups(const JobGraph& graph, const PlanOptions& plan) {
  std::map<std::string, std::vector<KeyGroupRange>> local;
  for (const NodeSpec& node : graph.nodes()) {
    int parallelism = node.parallelism > 0 ? node.parallelism : plan.parallelism;
    for (int s = 0; s < parallelism; ++s) {
      if (!plan.placement.runs_here(s)) continue;
      local[node.name].push_back(key_group_range_for_subtask(plan.max_parallelism, parallelism, s));
    }
  }
  return [local = std::move(local), max = plan.max_parallelism](
             const std::string& name, int checkpoint_max, int old_parallelism, int old_subtask) {
    if (checkpoint_max != max) return true;  // ranges differ: read it, let the restore decide
    auto it = local.find(name);
    if (it == local.end()) return false;
    KeyGroupRange old = key_group_range_for_subtask(max, old_parallelism, old_subtask);
    return std::any_of(it->second.begin(), it->second.end(), [&old](const KeyGroupRange& r) {
      return r.first <= old.last && old.first <= r.last;
    });
  };
}

}  // namespace

DeployedAttempt::DeployedAttempt(const pb::DeployTasks& deploy, const std::string& self,
                                 RemoteChannelRegistry& remote, Send send)
    : job_(deploy.job()),
      self_(self),
      slot_owner_(deploy.slot_owner().begin(), deploy.slot_owner().end()),
      attempt_(deploy.attempt()),
      job_number_(deploy.job_number()),
      remote_(remote),
      send_(std::move(send)),
      options_(job_run_options(deploy.spec(), deploy.checkpoint_root())),
      definition_(build_job(options_)),
      state_dir_(options_.state_dir) {
  PlanOptions plan = options_.plan;
  plan.job_name = job_;
  plan.state_backend.rocksdb.directory = state_dir_.path();
  plan.placement.slot_owner = slot_owner_;
  plan.placement.self = self;
  plan.placement.remote = &remote_;
  plan.placement.job_number = job_number_;
  plan.placement.attempt = static_cast<uint32_t>(attempt_);
  if (!deploy.restore_path().empty()) {
    restore_ = find_restore_point(options_.checkpoint.directory, job_, deploy.restore_path(),
                                  local_key_groups(definition_.graph(), plan));
    plan.restore = &restore_->operators;
    plan.key_hashing = restore_->metadata.key_hashing;
  }
  if (options_.checkpoint.enabled()) {
    writer_ = std::make_unique<SnapshotWriter>(
        CheckpointStorage(options_.checkpoint.directory, job_),
        [this](StoredSnapshot&& stored) { acknowledge(std::move(stored)); });
  }
  tasks_ = std::make_unique<TaskAttempt>(definition_.graph(), plan, SystemClock::instance());
  if (writer_) tasks_->attach_checkpoints(this);
}

DeployedAttempt::~DeployedAttempt() {
  stop();
}

void DeployedAttempt::start(std::function<void()> on_done) {
  tasks_->control().on_all_done(std::move(on_done));
  tasks_->start();
  for (size_t index : tasks_->plan().task_index) send_status(index, pb::TASK_RUNNING);
}

void DeployedAttempt::fail_if_peer(const std::string& peer, const std::string& message) {
  if (std::find(slot_owner_.begin(), slot_owner_.end(), peer) == slot_owner_.end()) return;
  tasks_->control().fail(ErrorKind::kExternal, message);
}

void DeployedAttempt::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (!done()) {
    tasks_->cancel();
    // A cancelled attempt's snapshots will never be acknowledged.
    if (writer_) writer_->abandon_up_to(std::numeric_limits<int64_t>::max());
  }
  tasks_->join();
  remote_.remove_attempt(job_number_, static_cast<uint32_t>(attempt_));
}

bool DeployedAttempt::can_end() {
  if (!done()) return false;
  if (tasks_->control().failure() || tasks_->control().cancelled()) return true;
  for (const auto& channel : tasks_->plan().channels) {
    if (channel->queued() > 0) return false;
  }
  return true;
}

void DeployedAttempt::report_outcome() {
  const ExecutionPlan& plan = tasks_->plan();
  if (std::optional<JobFailure> failure = tasks_->control().failure()) {
    size_t first = plan.task_index.empty() ? 0 : plan.task_index.front();
    send_status(first, pb::TASK_FAILED, failure->message, failure->kind);
    return;
  }
  for (size_t index : plan.task_index) send_status(index, pb::TASK_FINISHED);
}

void DeployedAttempt::post_mail(int task, const pb::CheckpointMail& mail) {
  if (mail.kind() == pb::MAIL_ABORT && writer_) writer_->abandon_up_to(mail.checkpoint());
  TaskMailbox* mailbox = tasks_->mailbox(static_cast<size_t>(task));
  if (mailbox == nullptr) {
    log::cluster()->warn("job {} attempt {}: checkpoint mail for task {}, which does not run here",
                         job_, attempt_, task);
    return;
  }
  mailbox->post(mail_of(mail));
}

void DeployedAttempt::submit_snapshot(int64_t id, size_t task,
                                      std::vector<OperatorSnapshotBytes> operators,
                                      const SnapshotReport& report) {
  writer_->submit(id, task, std::move(operators), report);
}

void DeployedAttempt::submit_slices(int64_t batch, size_t task, std::vector<SplitSlice> slices,
                                    SourceInput input, bool watermark_moves) {
  pb::Envelope envelope;
  pb::BatchSlices& m = *envelope.mutable_batch_slices();
  m.set_job(job_);
  m.set_attempt(attempt_);
  m.set_task(static_cast<int32_t>(task));
  m.set_batch(batch);
  add_slices(slices, m.mutable_slices());
  m.set_input(static_cast<int32_t>(input));
  m.set_watermark_moves(watermark_moves);
  send_(envelope);
}

void DeployedAttempt::input_ended(size_t task) {
  send_status(task, pb::TASK_INPUT_ENDED);
}

void DeployedAttempt::task_finished(size_t task) {
  // Cancelled or failed tasks are reported with the attempt's outcome.
  if (!tasks_->control().cancelled()) send_status(task, pb::TASK_FINISHED);
}

void DeployedAttempt::send_status(size_t task, pb::TaskState state, const std::string& message,
                                  ErrorKind kind) {
  pb::Envelope envelope;
  pb::TaskStatus& status = *envelope.mutable_task_status();
  status.set_job(job_);
  status.set_attempt(attempt_);
  status.set_task(static_cast<int32_t>(task));
  status.set_state(state);
  status.set_message(message);
  status.set_error_kind(static_cast<int32_t>(kind));
  send_(envelope);
}

void DeployedAttempt::acknowledge(StoredSnapshot&& stored) {
  pb::Envelope envelope;
  *envelope.mutable_checkpoint_ack() = to_checkpoint_ack(job_, attempt_, stored);
  send_(envelope);
}

void DeployedAttempt::report_task_metrics(pb::Heartbeat& heartbeat) const {
  pb::AttemptMetrics& counters = *heartbeat.add_attempts();
  counters.set_job(job_);
  counters.set_attempt(attempt_);
  counters.set_late_dropped(tasks_->metrics().late_dropped.value());
  counters.set_skipped_records(tasks_->metrics().skipped_records.value());
  const ExecutionPlan& plan = tasks_->plan();
  for (size_t i = 0; i < plan.tasks.size(); ++i) {
    const TaskProbe& probe = plan.tasks[i]->probe();
    pb::TaskMetrics& m = *heartbeat.add_tasks();
    m.set_job(job_);
    m.set_attempt(attempt_);
    m.set_task(static_cast<int32_t>(plan.task_index[i]));
    m.set_records_in(probe.records_in.value());
    m.set_records_out(probe.records_out.value());
    m.set_idle_us(probe.idle_us.value());
    m.set_backpressured_us(probe.backpressured_us.value());
    Timestamp watermark = probe.input_watermark.value();
    m.set_has_watermark(watermark != kMinTimestamp);
    m.set_input_watermark(watermark == kMinTimestamp ? 0 : watermark);
  }
}

}  // namespace sluice
