// Checkpoints of a job whose tasks all run in this process: snapshots are
// stored by a SnapshotWriter and acknowledged to the coordinator directly.
// (A task manager does the same, acknowledging by message instead.)
//
// Threading: as CheckpointCoordinator and SnapshotWriter. Lifecycle: lives
// inside the coordinator's lifetime; destroyed after every task stopped.
#pragma once

#include "runtime/checkpoint/snapshot_writer.h"
#include "runtime/coordinator/coordinator.h"

namespace sluice {

class LocalCheckpointing final : public CheckpointParticipation {
 public:
  explicit LocalCheckpointing(CheckpointCoordinator& coordinator)
      : coordinator_(coordinator),
        writer_(coordinator.storage(), [&coordinator](StoredSnapshot&& stored) {
          coordinator.acknowledge(std::move(stored));
        }) {
    coordinator.on_abort([this](int64_t id) { writer_.abandon_up_to(id); });
  }
  ~LocalCheckpointing() override { coordinator_.on_abort(nullptr); }

  void submit_snapshot(int64_t id, size_t task, std::vector<OperatorSnapshotBytes> operators,
                       const SnapshotReport& report) override {
    writer_.submit(id, task, std::move(operators), report);
  }
  void submit_slices(int64_t batch, size_t task, std::vector<SplitSlice> slices, SourceInput input,
                     bool watermark_moves) override {
    coordinator_.accept_slices(batch, task, std::move(slices), input, watermark_moves);
  }
  void input_ended(size_t task) override { coordinator_.input_ended(task); }
  void task_finished(size_t task) override { coordinator_.task_finished(task); }

 private:
  CheckpointCoordinator& coordinator_;
  SnapshotWriter writer_;
};

}  // namespace sluice
