// Validation of control-plane messages. Every process validates each
// Envelope it receives (RpcConnection does it before a handler sees the
// message), so handlers may rely on the rules below instead of re-checking:
//
//   - the envelope's body is set, and enum fields hold declared values
//     (proto3 keeps unknown enum numbers; ErrorKind numbers likewise);
//   - ids, hosts and job names are non-empty where required, at most
//     kMaxNameChars long and free of control characters; job names and
//     checkpoint file names are plain file names (no slash or backslash,
//     no "..", not "."), since they name directories and files;
//   - ports are 1..65535, slots 1..kMaxSlotsPerTaskManager, attempts,
//     task indexes and checkpoint ids are not negative (a trigger or
//     complete mail, and an acknowledgement, name checkpoint 1 or later);
//   - a DeployTasks places at most kMaxSlots slots, each on one of its
//     peers, and names every peer once;
//   - a StateHandle belongs to a subtask in [0, parallelism), parallelism
//     at most kMaxMaxParallelism;
//   - micro-batch slices: at most kMaxSlicesPerSource per message, each
//     with start <= end <= available;
//   - job arguments: at most kMaxJobArgs of at most kMaxJobArgChars each;
//     paths at most kMaxPathChars; free text (messages, errors) is only
//     bounded by the frame size.
//
// A failure throws InputError with one line that names the message and the
// field ("RegisterTaskManager.slots: 0 is outside 1..1024").
//
// Threading: pure functions.
#pragma once

#include <cstddef>

#include "runtime/cluster/cluster.pb.h"

namespace sluice {

inline constexpr size_t kMaxNameChars = 256;
inline constexpr size_t kMaxPathChars = 4096;
inline constexpr int kMaxSlotsPerTaskManager = 1024;
inline constexpr int kMaxSlots = 4096;  // slots of one job
inline constexpr int kMaxJobArgs = 4096;
inline constexpr size_t kMaxJobArgChars = 64 * 1024;
inline constexpr int kMaxSlicesPerSource = 1 << 16;  // kMaxSplits

// Throws InputError when any field of `envelope` breaks the rules above.
void validate_envelope(const pb::Envelope& envelope);

}  // namespace sluice
