// Conversions between the runtime's values and control-plane messages.
// Pure functions.
#pragma once

#include <string>

#include "runtime/checkpoint/snapshot_writer.h"
#include "runtime/cluster/cluster.pb.h"
#include "runtime/core/errors.h"

namespace sluice {

// A task manager's acknowledgement of a stored snapshot.
pb::CheckpointAck to_checkpoint_ack(const std::string& job, int attempt,
                                    const StoredSnapshot& stored);
// ... and the job manager's reading of it (fields already validated).
StoredSnapshot from_checkpoint_ack(const pb::CheckpointAck& ack);

// The ErrorKind a TaskStatus carries (validated to be in range).
ErrorKind error_kind_of(const pb::TaskStatus& status);

}  // namespace sluice
