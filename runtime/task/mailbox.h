// How a task and its checkpoint coordinator talk: the coordinator posts
// mails to the task's mailbox (triggers, completions, batch plans), and the
// task reports through CheckpointParticipation (its snapshots, its slices,
// the end of its input). The task owns this contract; the coordinator, in
// this process or in the job manager, implements the other end.
//
// Threading: post() from any thread; CheckpointParticipation from the task's
// thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/checkpoint/snapshot_writer.h"
#include "runtime/operator/checkpoint_kind.h"
#include "runtime/operator/operator.h"
#include "runtime/operator/source.h"

namespace sluice {

enum class MailKind {
  kTriggerCheckpoint,
  kCheckpointComplete,
  kCheckpointAborted,
  // The job's final checkpoint completed (every task's part of it was taken
  // after the task's input ended): commit, then end.
  kFinalCheckpointComplete,
  kPlanBatch,     // a source reports its splits' slices (submit_slices)
  kRunBatch,      // a source reads `slices`, then emits the batch's barrier
  kEndOfBatches,  // a source ends without ending event time
  // An operator asked to be woken (ProcessingTimeService::request_wakeup).
  kOperatorWakeup,
  // Stop with drain: a source ends its input now, with the end's maximum
  // watermark, as a bounded source does at its end (continuous mode).
  kDrainSource,
};

struct Mail {
  Mail(MailKind kind, int64_t checkpoint) : kind(kind), checkpoint(checkpoint) {}

  MailKind kind;
  int64_t checkpoint;  // the checkpoint, or the batch (a batch is a checkpoint)
  CheckpointKind checkpoint_kind = CheckpointKind::kCheckpoint;  // kTriggerCheckpoint
  uint64_t max_records = 0;                                      // kPlanBatch
  // kRunBatch: the batch's slices of every split of the task's source.
  std::shared_ptr<const std::vector<SplitSlice>> slices;
  OperatorBase* op = nullptr;  // kOperatorWakeup
};

// Where the coordinator posts mails for a task.
class TaskMailbox {
 public:
  virtual ~TaskMailbox() = default;
  virtual void post(Mail mail) = 0;
};

// What a task calls during checkpoints: `task` is its index among the
// coordinator's tasks.
class CheckpointParticipation {
 public:
  virtual ~CheckpointParticipation() = default;
  virtual void submit_snapshot(int64_t id, size_t task,
                               std::vector<OperatorSnapshotBytes> operators,
                               const SnapshotReport& report) = 0;
  // A source task's answer to kPlanBatch: its slices, where its input
  // stands, and whether its watermark (or idleness) would change if a
  // batch ran now, even one without data.
  virtual void submit_slices(int64_t batch, size_t task, std::vector<SplitSlice> slices,
                             SourceInput input, bool watermark_moves) = 0;
  // The task finished its input; it takes part in checkpoints until the
  // job's final checkpoint (kFinalCheckpointComplete).
  virtual void input_ended(size_t task) = 0;
  // The task's thread ended: after the final checkpoint, or because the
  // attempt is going down. It acknowledges nothing more.
  virtual void task_finished(size_t task) = 0;
};

}  // namespace sluice
