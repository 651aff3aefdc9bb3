// What a checkpoint barrier asks of the tasks it passes. It travels with
// the trigger (runtime/task/mailbox.h) and with every barrier
// (runtime/network/channel.h), so each task snapshots in the form its
// checkpoint needs. Plain values.
#pragma once

#include <cstdint>

namespace sluice {

enum class CheckpointKind : uint8_t {
  // The job's own recovery point: RocksDB state may be stored natively, its
  // SST files shared with other checkpoints (incremental).
  kCheckpoint,
  // A savepoint: every state in the portable form (readable by either
  // backend, at any parallelism), no file shared with another checkpoint,
  // so its directory can be moved and restored anywhere.
  kSavepoint,
  // A savepoint that stops the job (stop without drain): after it the
  // sources read nothing, and every task ignores its input, fires no timer
  // and ends once the savepoint completed and the sinks committed it.
  kStopSavepoint,
};

constexpr uint8_t kLastCheckpointKind = static_cast<uint8_t>(CheckpointKind::kStopSavepoint);

constexpr bool is_savepoint(CheckpointKind kind) {
  return kind != CheckpointKind::kCheckpoint;
}

}  // namespace sluice
