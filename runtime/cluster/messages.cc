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
  ack.set_synchronous_ms(stored.synchronous_ms);
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
  stored.synchronous_ms = ack.synchronous_ms();
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

}  // namespace sluice
