// Conversions between the runtime's values and control-plane messages.
// Pure functions.
#pragma once

#include <string>
#include <vector>

#include "runtime/cluster/cluster.pb.h"
#include "runtime/coordinator/coordinator.h"
#include "runtime/core/errors.h"

namespace sluice {

// A task manager's acknowledgement of a stored snapshot.
pb::CheckpointAck to_checkpoint_ack(const std::string& job, int attempt,
                                    const StoredSnapshot& stored);
// ... and the job manager's reading of it (fields already validated).
StoredSnapshot from_checkpoint_ack(const pb::CheckpointAck& ack);

// Micro-batch slices, both ways.
void add_slices(const std::vector<SplitSlice>& slices,
                google::protobuf::RepeatedPtrField<pb::SplitSlice>* out);
std::vector<SplitSlice> slices_of(const google::protobuf::RepeatedPtrField<pb::SplitSlice>& in);

// The runtime's mail for a checkpoint mail message, and back.
Mail mail_of(const pb::CheckpointMail& mail);
pb::MailKind mail_kind_message(MailKind kind);

// The ErrorKind a TaskStatus carries (validated to be in range).
ErrorKind error_kind_of(const pb::TaskStatus& status);

}  // namespace sluice
