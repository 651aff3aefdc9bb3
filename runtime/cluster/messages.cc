#include "runtime/cluster/messages.h"

namespace sluice {

pb::CheckpointAck to_checkpoint_ack(const std::string& job, int attempt,
                                    const StoredSnapshot& stored) {
  pb::CheckpointAck ack;
  ack.set_job(job);
  ack.set_attempt(attempt);
  ack.set_task(static_cast<int32_t>(stored.task));
  ack.set_checkpoint(stored.id);
  ack.set_bytes_written(stored.bytes_written);
  ack.set_bytes_total(stored.bytes_total);
  ack.set_synchronous_ms(stored.report.synchronous_ms);
  ack.set_alignment_ms(stored.report.alignment_ms);
  ack.set_asynchronous_ms(stored.report.asynchronous_ms);
  ack.set_input_rows(stored.report.input_rows);
  ack.set_watermark(stored.report.watermark);
  ack.set_input_ended(stored.report.input_ended);
  ack.set_error(stored.error);
  for (const StoredOperatorState& op : stored.operators) {
    pb::StateHandle& h = *ack.add_operators();
    h.set_name(op.name);
    h.set_subtask(op.handle.subtask);
    h.set_parallelism(op.parallelism);
    h.set_keyed_state(op.handle.keyed_state);
    h.set_operator_state(op.handle.operator_state);
    for (const std::string& f : op.handle.files) h.add_files(f);
    for (const std::string& f : op.handle.shared_files) h.add_shared_files(f);
  }
  return ack;
}

StoredSnapshot from_checkpoint_ack(const pb::CheckpointAck& ack) {
  StoredSnapshot stored;
  stored.id = ack.checkpoint();
  stored.task = static_cast<size_t>(ack.task());
  stored.bytes_written = ack.bytes_written();
  stored.bytes_total = ack.bytes_total();
  stored.report.synchronous_ms = ack.synchronous_ms();
  stored.report.alignment_ms = ack.alignment_ms();
  stored.report.asynchronous_ms = ack.asynchronous_ms();
  stored.report.input_rows = ack.input_rows();
  stored.report.watermark = ack.watermark();
  stored.report.input_ended = ack.input_ended();
  stored.error = ack.error();
  for (const pb::StateHandle& h : ack.operators()) {
    StoredOperatorState op;
    op.name = h.name();
    op.parallelism = h.parallelism();
    op.handle.subtask = h.subtask();
    op.handle.keyed_state = h.keyed_state();
    op.handle.operator_state = h.operator_state();
    op.handle.files.assign(h.files().begin(), h.files().end());
    op.handle.shared_files.assign(h.shared_files().begin(), h.shared_files().end());
    stored.operators.push_back(std::move(op));
  }
  return stored;
}

ErrorKind error_kind_of(const pb::TaskStatus& status) {
  return static_cast<ErrorKind>(status.error_kind());
}

void add_slices(const std::vector<SplitSlice>& slices,
                google::protobuf::RepeatedPtrField<pb::SplitSlice>* out) {
  out->Reserve(static_cast<int>(slices.size()));
  for (const SplitSlice& slice : slices) {
    pb::SplitSlice& m = *out->Add();
    m.set_split(slice.split);
    m.set_start(slice.start);
    m.set_end(slice.end);
    m.set_available(slice.available);
    m.set_ended(slice.ended);
  }
}

std::vector<SplitSlice> slices_of(const google::protobuf::RepeatedPtrField<pb::SplitSlice>& in) {
  std::vector<SplitSlice> slices;
  slices.reserve(static_cast<size_t>(in.size()));
  for (const pb::SplitSlice& m : in) {
    slices.push_back(SplitSlice{m.split(), m.start(), m.end(), m.available(), m.ended()});
  }
  return slices;
}

namespace {

constexpr std::pair<MailKind, pb::MailKind> kMailKinds[] = {
    {MailKind::kTriggerCheckpoint, pb::MAIL_TRIGGER},
    {MailKind::kCheckpointComplete, pb::MAIL_COMPLETE},
    {MailKind::kCheckpointAborted, pb::MAIL_ABORT},
    {MailKind::kPlanBatch, pb::MAIL_PLAN_BATCH},
    {MailKind::kRunBatch, pb::MAIL_RUN_BATCH},
    {MailKind::kEndOfBatches, pb::MAIL_END_OF_BATCHES},
    {MailKind::kFinalCheckpointComplete, pb::MAIL_FINAL_COMPLETE},
    {MailKind::kDrainSource, pb::MAIL_DRAIN_SOURCE},
};

// Checkpoint kinds travel as their numbers.
static_assert(static_cast<int>(CheckpointKind::kCheckpoint) == pb::KIND_CHECKPOINT);
static_assert(static_cast<int>(CheckpointKind::kSavepoint) == pb::KIND_SAVEPOINT);
static_assert(static_cast<int>(CheckpointKind::kStopSavepoint) == pb::KIND_STOP_SAVEPOINT);

}  // namespace

pb::MailKind mail_kind_message(MailKind kind) {
  for (const auto& [runtime, message] : kMailKinds) {
    if (runtime == kind) return message;
  }
  return pb::MAIL_ABORT;
}

Mail mail_of(const pb::CheckpointMail& message) {
  Mail mail{MailKind::kCheckpointAborted, message.checkpoint()};
  for (const auto& [runtime, kind] : kMailKinds) {
    if (kind == message.kind()) mail.kind = runtime;
  }
  mail.max_records = message.max_records();
  mail.checkpoint_kind = static_cast<CheckpointKind>(message.checkpoint_kind());
  if (mail.kind == MailKind::kRunBatch) {
    mail.slices = std::make_shared<const std::vector<SplitSlice>>(slices_of(message.slices()));
  }
  return mail;
}

}  // namespace sluice
