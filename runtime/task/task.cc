#include "runtime/task/task.h"

#include <algorithm>
#include <chrono>

#include "runtime/core/fault_injection.h"
#include "runtime/core/logging.h"

namespace sluice {
namespace {

// The longest a task waits without re-checking for cancellation.
constexpr Timestamp kMaxWaitMs = 100;
// The longest records wait in a writer's partial batch while input keeps
// coming; a task whose input runs dry sends them at once.

}  // namespace

Task::Task(std::string name, JobControl& control, JobMetrics& metrics, const Clock& clock,
           StateBackendConfig state_backend)
    : name_(std::move(name)),
      control_(control),
      metrics_(metrics),
      probe_registration_(metrics.registry, &probe_),
      clock_(clock),
      state_backend_(std::move(state_backend)) {
  probe_.register_in(metrics_.registry, name_);
}

Task::~Task() = default;

void Task::add_operator(std::unique_ptr<OperatorBase> op, const OperatorRestore* restore) {
  operators_.push_back(std::move(op));
  restores_.push_back(restore);
}

void Task::run() {
  try {
    open_operators();
    flushed_at_ = std::chrono::steady_clock::now();
    if (source_ != nullptr) {
      run_source_loop();
    } else {
      run_input_loop();
    }
    if (!stopping_) finish_operators();  // a stop savepoint may come meanwhile
    if (stopping_) {
      await_stop();
    } else if (checkpoints_ != nullptr) {
      await_final_checkpoint();
    }
    for (auto& writer : writers_) writer->send_end();
  } catch (const CancelledError&) {
    // The job is going down for another reason; nothing to report.
  } catch (const SluiceError& e) {
    control_.fail(e.kind(), e.what());
  } catch (const std::exception& e) {
    control_.fail(ErrorKind::kInternal, "task " + name_ + ": " + e.what());
  }
  close_operators();
  if (checkpoints_ != nullptr) checkpoints_->task_finished(checkpoint_index_);
  control_.task_done();
}

// With checkpoints, the end of input is not the end of the task (design
// section 13, Flink's FLIP-147): what the operators emitted at finish() is
// committed only through a checkpoint taken after it. The task tells
// downstream that no data follows, takes part in checkpoints (a source is
// still triggered, inputs still deliver barriers) and ends once the job's
// final checkpoint completed and every input ended.
void Task::await_final_checkpoint() {
  for (auto& writer : writers_) writer->send_end_of_data();
  input_ended_ = true;
  timers_ = {};  // fired at finish() or never: no output after the end of data
  checkpoints_->input_ended(checkpoint_index_);
  SLUICE_FAULT_POINT("task.input-ended");
  while (!final_checkpoint_complete_ || ended_count_ < readers_.size()) {
    check_cancelled();
    process_mails();
    if (!poll_inputs()) wait_for_work(kMaxTimestamp);
  }
}

// After a stop savepoint (stop without drain) the job's state is in the
// savepoint and nothing may change it or reach a sink: the task drops what
// its inputs still deliver (savepoints are aligned: nothing from before the
// barrier comes after it), fires no timer and ends once the savepoint
// completed, its sinks committed, and
// every input ended. It does not finish its operators: windows stay open
// in the savepoint for the job that resumes it.
void Task::await_stop() {
  timers_ = {};
  for (auto& reader : readers_) reader->discard_data();
  while (!final_checkpoint_complete_ || ended_count_ < readers_.size()) {
    check_cancelled();
    process_mails();
    if (!poll_inputs()) wait_for_work(kMaxTimestamp);
  }
}

void Task::open_operators() {
  state_handlers_.resize(operators_.size());
  // Tail first, so every operator's downstream is ready when it opens.
  for (size_t i = operators_.size(); i-- > 0;) {
    OperatorBase& op = *operators_[i];
    try {
      state_handlers_[i] = std::make_unique<OperatorStateHandler>(op, state_backend_, restores_[i],
                                                                  &metrics_.registry, name_);
    } catch (...) {
      rethrow_as_operator_failure(op.info());
    }
    contexts_.push_back(std::make_unique<OperatorContext>(
        OperatorContext{op.info(), *this, metrics_, state_handlers_[i]->backend(), restores_[i],
                        checkpoints_ != nullptr, unaligned_}));
    try {
      op.open(*contexts_.back());
    } catch (...) {
      rethrow_as_operator_failure(op.info());
    }
  }
  valve_ = std::make_unique<WatermarkValve>(static_cast<int>(readers_.size()));
  ended_.assign(readers_.size(), false);
  data_ended_.assign(readers_.size(), false);
  barrier_seen_.assign(readers_.size(), false);
}

void Task::run_source_loop() {
  while (true) {
    check_cancelled();
    process_mails();
    if (stopping_) return;
    fire_due_timers();
    if (!output_has_room()) {
      wait_for_output_room();
      continue;
    }
    SourceOperatorBase::PollOutcome outcome;
    try {
      outcome = source_->poll(now());
    } catch (...) {
      rethrow_as_operator_failure(source_->info());
    }
    if (outcome.step == SourceOperatorBase::Step::kProgress) {
      flush_writers_if_due();
    } else {
      flush_writers();
    }
    set_idle(source_->idle());
    if (outcome.step == SourceOperatorBase::Step::kFinished) return;
    if (outcome.step == SourceOperatorBase::Step::kWait) wait_for_work(outcome.wait_until);
    if (outcome.step == SourceOperatorBase::Step::kSliceEnd) {
      take_checkpoint(batch_, batch_kind_);
    }
  }
}

// Takes input only while every output channel has room; otherwise, and
// when the input runs dry, it waits for a wakeup (input, room, mail) and
// keeps handling mails and timers meanwhile.
void Task::run_input_loop() {
  while (data_ended_count_ < readers_.size() && !stopping_) {
    check_cancelled();
    process_mails();
    fire_due_timers();
    if (!output_has_room()) {
      if (!unaligned_ || !poll_barriers()) wait_for_output_room();
    } else if (poll_inputs()) {
      flush_writers_if_due();
    } else {
      flush_writers();
      wait_for_work(kMaxTimestamp);
    }
  }
}

// Unaligned: barriers at the front of an input are taken even while the
// output has no room.
bool Task::poll_barriers() {
  bool got = false;
  for (size_t i = 0; i < readers_.size(); ++i) {
    if (ended_[i]) continue;
    Polled polled = readers_[i]->poll_barrier();
    if (!polled.got) continue;
    on_control(polled, i);
    got = true;
  }
  return got;
}

// Room in every output channel, and in every operator (one with
// asynchronous requests at its bound takes no more records).
bool Task::output_has_room() const {
  for (const auto& writer : writers_) {
    if (!writer->has_room()) return false;
  }
  for (const auto& op : operators_) {
    if (!op->has_input_room()) return false;
  }
  return true;
}

bool Task::poll_inputs() {
  size_t n = readers_.size();
  for (size_t i = 0; i < n; ++i) {
    size_t input = (next_input_ + i) % n;
    if (ended_[input] || blocked(input)) continue;
    Polled polled = readers_[input]->poll();
    if (!polled.got) continue;
    next_input_ = (input + 1) % n;
    if (polled.kind == ElementKind::kBatch) {
      probe_.batches_in.add();
      probe_.records_in.add(polled.records);
    } else {
      on_control(polled, input);
    }
    return true;
  }
  return false;
}

void Task::on_control(const Polled& polled, size_t input) {
  int index = static_cast<int>(input);
  if (stopping_ && polled.kind != ElementKind::kEnd && polled.kind != ElementKind::kBarrierMark) {
    return;  // no watermark, idleness or barrier matters after a stop savepoint
  }
  switch (polled.kind) {
    case ElementKind::kWatermark:
      advance_watermark(valve_->on_watermark(index, polled.watermark));
      break;
    case ElementKind::kIdle:
    case ElementKind::kActive:
      advance_watermark(valve_->on_idle(index, polled.kind == ElementKind::kIdle));
      break;
    case ElementKind::kEnd:
      ended_[input] = true;
      ++ended_count_;
      if (!stopping_) end_data(input);
      check_alignment();             // an ended input delivers no more barriers
      complete_unaligned_if_done();  // nor marks
      break;
    case ElementKind::kEndOfData:
      end_data(input);
      break;
    case ElementKind::kBarrier:
      on_barrier(input, polled.checkpoint, polled.checkpoint_kind);
      break;
    case ElementKind::kBarrierMark:
      complete_unaligned_if_done();
      break;
    case ElementKind::kBatch:
      break;
  }
  set_idle(valve_->all_idle());
}

// No records or watermarks come from `input` any more.
void Task::end_data(size_t input) {
  if (data_ended_[input]) return;
  data_ended_[input] = true;
  ++data_ended_count_;
  advance_watermark(valve_->on_end(static_cast<int>(input)));
}

void Task::advance_watermark(std::optional<Timestamp> watermark) {
  if (!watermark) return;
  probe_.input_watermark.set(*watermark);
  OperatorBase& head = *operators_.front();
  try {
    head.process_watermark(*watermark);
  } catch (...) {
    rethrow_as_operator_failure(head.info());
  }
}

void Task::set_idle(bool idle) {
  // Nothing but barriers after the end of data, nothing at all after a stop.
  if (idle == idle_ || input_ended_ || stopping_) return;
  idle_ = idle;
  for (auto& writer : writers_) {
    writer->send_stream_status(idle ? StreamStatus::kIdle : StreamStatus::kActive);
  }
}

void Task::fire_due_timers() {
  if (timers_.empty()) return;
  Timestamp current = now();
  while (!timers_.empty() && timers_.top().at <= current) {
    OperatorBase* op = timers_.top().op;
    timers_.pop();
    try {
      op->on_processing_time(current);
    } catch (...) {
      rethrow_as_operator_failure(op->info());
    }
  }
  flush_writers();
}

// A full output channel holds the task back: what it has for the others
// goes first.
void Task::wait_for_output_room() {
  for (auto& writer : writers_) writer->flush_where_room();
  wait_for_work(kMaxTimestamp, probe_.backpressured_us);
}

void Task::wait_for_work(Timestamp until, Counter& waited) {
  if (!timers_.empty()) until = std::min(until, timers_.top().at);
  Timestamp wait = kMaxWaitMs;
  if (until != kMaxTimestamp) wait = std::clamp<Timestamp>(until - now(), 0, kMaxWaitMs);
  if (wait <= 0) return;
  auto started = std::chrono::steady_clock::now();
  wakeup_.wait_for(std::chrono::milliseconds(wait));
  waited.add(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                       std::chrono::steady_clock::now() - started)
                                       .count()));
}

// Head first; an operator with work in flight (asynchronous requests) is
// finished once it is done, the task serving mails and timers meanwhile.
void Task::finish_operators() {
  for (auto& op : operators_) {
    while (op->has_pending_work()) {
      check_cancelled();
      process_mails();
      if (stopping_) return;  // nothing is finished after a stop savepoint
      fire_due_timers();
      if (op->has_pending_work()) wait_for_work(kMaxTimestamp);
    }
    try {
      op->finish();
    } catch (...) {
      rethrow_as_operator_failure(op->info());
    }
  }
  flush_writers();
}

void Task::flush_writers() {
  for (auto& writer : writers_) writer->flush();
  flushed_at_ = std::chrono::steady_clock::now();
}

void Task::flush_writers_if_due() {
  if (writers_.empty()) return;
  if (std::chrono::steady_clock::now() - flushed_at_ >= max_flush_delay_) flush_writers();
}

void Task::close_operators() {
  for (auto& op : operators_) {
    try {
      op->close();
    } catch (const std::exception& e) {
      log::runtime()->warn("{}: closing operator '{}' failed: {}", name_, op->info().name,
                           e.what());
    }
  }
}

void Task::check_cancelled() const {
  if (control_.cancelled()) throw CancelledError();
}

void Task::post(Mail mail) {
  {
    std::lock_guard lock(mail_mutex_);
    mails_.push_back(mail);
  }
  wakeup_.notify();
}

void Task::request_wakeup(OperatorBase* op) {
  Mail mail(MailKind::kOperatorWakeup, 0);
  mail.op = op;
  post(std::move(mail));
}

void Task::process_mails() {
  std::vector<Mail> mails;
  {
    std::lock_guard lock(mail_mutex_);
    if (mails_.empty()) return;
    mails.swap(mails_);
  }
  for (const Mail& mail : mails) {
    switch (mail.kind) {
      case MailKind::kTriggerCheckpoint:
        if (source_ != nullptr) take_checkpoint(mail.checkpoint, mail.checkpoint_kind);
        break;
      case MailKind::kCheckpointComplete:
        notify_complete(mail.checkpoint);
        break;
      case MailKind::kFinalCheckpointComplete:
        notify_complete(mail.checkpoint);
        final_checkpoint_complete_ = true;
        break;
      case MailKind::kCheckpointAborted:
        highest_aborted_ = std::max(highest_aborted_, mail.checkpoint);
        if (unaligned_pending_ && unaligned_pending_->id == mail.checkpoint) drop_unaligned();
        if (aligning_ == mail.checkpoint) {
          aligning_ = 0;
          barrier_seen_.assign(readers_.size(), false);
        }
        break;
      case MailKind::kPlanBatch:
      case MailKind::kRunBatch:
      case MailKind::kEndOfBatches:
        if (source_ != nullptr) on_batch_mail(mail);
        break;
      case MailKind::kOperatorWakeup:
        if (stopping_) break;  // what it would emit comes after the savepoint
        try {
          mail.op->on_wakeup();
        } catch (...) {
          rethrow_as_operator_failure(mail.op->info());
        }
        break;
      case MailKind::kDrainSource:
        if (source_ != nullptr) source_->drain();
        break;
    }
  }
}

// Micro-batch mode: planning, reading and ending, all at the source.
void Task::on_batch_mail(const Mail& mail) {
  try {
    switch (mail.kind) {
      case MailKind::kPlanBatch: {
        std::vector<SplitSlice> slices = source_->plan_slices(mail.max_records);
        checkpoints_->submit_slices(mail.checkpoint, checkpoint_index_, std::move(slices),
                                    source_->input(), source_->watermark_would_move(now()));
        break;
      }
      case MailKind::kRunBatch:
        batch_ = mail.checkpoint;
        batch_kind_ = mail.checkpoint_kind;
        source_->start_slices(mail.slices ? *mail.slices : std::vector<SplitSlice>{});
        break;
      default:
        source_->end_batches();
        break;
    }
  } catch (...) {
    rethrow_as_operator_failure(source_->info());
  }
}

// Exactly-once alignment: an input that delivered barrier `id` is held back
// until every input that has not ended delivered it too.
void Task::on_barrier(size_t input, int64_t id, CheckpointKind kind) {
  // Of a checkpoint this task already took, or of an aborted one: a late
  // barrier must not hold its input back, since nothing will complete it.
  // Savepoints are aligned in either mode: they hold no records in flight,
  // which would tie them to the parallelism they were taken at.
  if (unaligned_ && !is_savepoint(kind)) {
    // A later barrier of the pending checkpoint was recorded by its reader.
    if (id > last_barrier_ && id > highest_aborted_) start_unaligned(id, kind, input);
    complete_unaligned_if_done();
    return;
  }
  if (id <= last_barrier_ || id <= highest_aborted_) return;
  if (id != aligning_) {
    aligning_ = id;  // a newer checkpoint supersedes one that was aborted
    aligning_kind_ = kind;
    alignment_started_ = now();
    barrier_seen_.assign(readers_.size(), false);
  }
  barrier_seen_[input] = true;
  check_alignment();
}

void Task::check_alignment() {
  if (aligning_ == 0) return;
  for (size_t i = 0; i < readers_.size(); ++i) {
    if (!ended_[i] && !barrier_seen_[i]) return;
  }
  int64_t id = aligning_;
  aligning_ = 0;
  barrier_seen_.assign(readers_.size(), false);
  take_checkpoint(id, aligning_kind_, now() - alignment_started_);
}

// Snapshots every operator of the chain (state frozen or copied here,
// encoded by the writer), passes the barrier on, and hands the snapshots on
// to be stored. Only reached when attached to checkpoints: the coordinator
// alone starts them.
void Task::take_checkpoint(int64_t id, CheckpointKind kind, DurationMs alignment_ms) {
  if (unaligned_ && !is_savepoint(kind)) {
    start_unaligned(id, kind, std::nullopt);
    return;
  }
  last_barrier_ = id;
  auto started = std::chrono::steady_clock::now();
  std::vector<OperatorSnapshotBytes> snapshots = snapshot_operators(id, kind);
  SnapshotReport report = report_for(started, alignment_ms);
  for (auto& writer : writers_) writer->send_barrier(id, kind);
  checkpoints_->submit_snapshot(id, checkpoint_index_, std::move(snapshots), report);
}

std::vector<OperatorSnapshotBytes> Task::snapshot_operators(int64_t id, CheckpointKind kind) {
  if (kind == CheckpointKind::kStopSavepoint) stopping_ = true;
  probe_.snapshots.add();
  std::vector<OperatorSnapshotBytes> snapshots;
  for (size_t i = 0; i < operators_.size(); ++i) {
    const std::unique_ptr<OperatorBase>& op = operators_[i];
    OperatorSnapshot snapshot;
    try {
      snapshot = op->snapshot_state(id);
      state_handlers_[i]->complete_snapshot(id, kind, snapshot);
    } catch (...) {
      rethrow_as_operator_failure(op->info());
    }
    OperatorSnapshotBytes bytes;
    bytes.name = op->info().name;
    bytes.subtask = op->info().subtask;
    bytes.parallelism = op->info().parallelism;
    bytes.keyed = std::move(snapshot.keyed);
    bytes.operator_state = std::move(snapshot.operator_state);
    bytes.files = std::move(snapshot.files);
    snapshots.push_back(std::move(bytes));
  }
  return snapshots;
}

SnapshotReport Task::report_for(std::chrono::steady_clock::time_point started,
                                DurationMs alignment_ms) const {
  SnapshotReport report;
  report.synchronous_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - started)
                              .count();
  report.alignment_ms = alignment_ms;
  report.input_ended = input_ended_;
  if (source_ != nullptr) {
    report.input_rows = source_->slice_rows();
    report.watermark = source_->emitted_watermark();
  }
  return report;
}

// Unaligned: snapshot now, overtake the queued output, and record every
// input until its mark of this checkpoint.
void Task::start_unaligned(int64_t id, CheckpointKind kind, std::optional<size_t> barrier_input) {
  drop_unaligned();  // a newer checkpoint supersedes one that never completed
  last_barrier_ = id;
  auto started = std::chrono::steady_clock::now();
  PendingUnaligned pending;
  pending.id = id;
  pending.snapshots = snapshot_operators(id, kind);
  for (size_t i = 0; i < readers_.size(); ++i) {
    if (!ended_[i]) readers_[i]->record_until_mark(id, barrier_input == i);
  }
  for (auto& writer : writers_) writer->send_priority_barrier(id, kind);
  if (stores_overtaken_output_) pending.snapshots.push_back(take_overtaken_output());
  pending.report = report_for(started, 0);
  unaligned_pending_ = std::move(pending);
  complete_unaligned_if_done();
}

// Once no input records any more, stores the recorded data under the head
// operator's in-flight name and hands the snapshot on.
void Task::complete_unaligned_if_done() {
  if (!unaligned_pending_) return;
  for (const auto& reader : readers_) {
    if (reader->recording()) return;
  }
  PendingUnaligned done = std::move(*unaligned_pending_);
  unaligned_pending_.reset();
  // Every subtask with inputs stores one, empty or not, so that a restore
  // finds one state per subtask.
  if (!readers_.empty()) {
    std::vector<std::string> in_flight;
    bool any = false;
    for (auto& reader : readers_) {
      in_flight.push_back(reader->take_recorded());
      any |= !in_flight.back().empty();
    }
    const OperatorInfo& head = operators_.front()->info();
    OperatorSnapshotBytes bytes;
    bytes.name = head.name + std::string(kInFlightSuffix);
    bytes.subtask = head.subtask;
    bytes.parallelism = head.parallelism;
    if (any) bytes.operator_state = encode_versioned(kInFlightFormat, in_flight);
    done.snapshots.push_back(std::move(bytes));
  }
  checkpoints_->submit_snapshot(done.id, checkpoint_index_, std::move(done.snapshots), done.report);
}

// What the barriers just overtook in the sending ends of remote edges.
OperatorSnapshotBytes Task::take_overtaken_output() const {
  OvertakenOutput overtaken;
  for (const OvertakenChannel& out : overtaken_outputs_) {
    std::string recorded = out.channel->take_overtaken();
    if (!recorded.empty()) overtaken.emplace_back(out.edge, out.consumer, std::move(recorded));
  }
  const OperatorInfo& head = operators_.front()->info();
  OperatorSnapshotBytes bytes;
  bytes.name = head.name + std::string(kOvertakenOutputSuffix);
  bytes.subtask = head.subtask;
  bytes.parallelism = head.parallelism;
  if (!overtaken.empty())
    bytes.operator_state = encode_versioned(kOvertakenOutputFormat, overtaken);
  return bytes;
}

void Task::require_input_codecs() const {
  for (const auto& reader : readers_) reader->require_codec();
}

void Task::replay_in_flight(const std::vector<std::string>& in_flight) {
  if (in_flight.empty()) return;
  if (in_flight.size() != readers_.size()) {
    throw InputError(
        fmt::format("{}: the checkpoint holds in-flight data of {} inputs, the task has {}", name_,
                    in_flight.size(), readers_.size()));
  }
  size_t bytes = 0;
  for (size_t i = 0; i < readers_.size(); ++i) {
    readers_[i]->replay(in_flight[i]);
    bytes += in_flight[i].size();
  }
  log::runtime()->info("{}: replaying {} bytes of in-flight input first", name_, bytes);
}

void Task::replay_input(size_t input, std::string_view recorded) {
  readers_.at(input)->replay(recorded);
  log::runtime()->info("{}: replaying {} bytes its producer's barrier overtook first", name_,
                       recorded.size());
}

void Task::drop_unaligned() {
  if (!unaligned_pending_) return;
  unaligned_pending_.reset();
  for (auto& reader : readers_) reader->stop_recording();
}

void Task::notify_complete(int64_t id) {
  for (auto& op : operators_) {
    try {
      op->notify_checkpoint_complete(id);
    } catch (...) {
      rethrow_as_operator_failure(op->info());
    }
  }
  flush_writers();
}

}  // namespace sluice
