// Stores what tasks snapshot at a checkpoint barrier, off their threads:
// keyed state frozen at the barrier is encoded here, state bytes become
// checksummed files in the checkpoint's directory,
// RocksDB files are copied to the checkpoint or its shared area, and the
// scratch directories are removed. Each stored snapshot is handed to
// `on_stored`, which acknowledges it to the checkpoint coordinator: by a
// direct call on the local cluster, by a message from a task manager.
//
// Threading: submit() and abandon_up_to() from any thread; one writer
// thread inside (a BackgroundWork) calls on_stored. Lifecycle: construct ->
// submit* -> destroy (finishes what is queued, then joins).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "runtime/checkpoint/background_work.h"
#include "runtime/checkpoint/metadata.h"
#include "runtime/checkpoint/storage.h"
#include "runtime/core/time.h"
#include "state/snapshot.h"

namespace sluice {

// What a task sends when it took its part of a checkpoint.
struct OperatorSnapshotBytes {
  std::string name;
  int32_t subtask = 0;
  int32_t parallelism = 1;
  // Encoded by the writer: its deferred states are completed there.
  std::optional<KeyedSnapshot> keyed;
  std::string operator_state;
  SnapshotFiles files;  // stored by the writer, scratch removed afterwards
};

// One operator subtask's stored state, as the metadata will list it.
struct StoredOperatorState {
  std::string name;
  int32_t parallelism = 1;
  SubtaskStateHandle handle;
};

// What a task tells about its part of a checkpoint besides its state.
struct SnapshotReport {
  DurationMs synchronous_ms = 0;  // how long the snapshot held up the task's thread
  // From the task's first barrier of the checkpoint to its last (0 for a
  // source or a task with one input).
  DurationMs alignment_ms = 0;
  // From the snapshot's hand-over to this writer until it was stored: the
  // part of the checkpoint that ran off the task's thread.
  DurationMs asynchronous_ms = 0;
  // Taken after the task's input ended: the task's final state and output.
  bool input_ended = false;
  // A source task in micro-batch mode: the records it read in the batch,
  // and its watermark at the batch's end.
  int64_t input_rows = 0;
  Timestamp watermark = kMinTimestamp;
};

// A task's acknowledgement of checkpoint `id`.
struct StoredSnapshot {
  int64_t id = 0;
  size_t task = 0;
  std::vector<StoredOperatorState> operators;
  uint64_t bytes_written = 0;  // copied by this checkpoint
  uint64_t bytes_total = 0;    // referenced, with shared files written before
  SnapshotReport report;
  std::string error;  // set when storing failed
};

class SnapshotWriter {
 public:
  using OnStored = std::function<void(StoredSnapshot&&)>;
  SnapshotWriter(CheckpointStorage storage, OnStored on_stored);
  SnapshotWriter(const SnapshotWriter&) = delete;
  SnapshotWriter& operator=(const SnapshotWriter&) = delete;

  void submit(int64_t id, size_t task, std::vector<OperatorSnapshotBytes> operators,
              const SnapshotReport& report);
  // Checkpoints up to `id` were aborted: their queued snapshots are dropped.
  void abandon_up_to(int64_t id);

 private:
  struct Job {
    int64_t id;
    size_t task;
    std::vector<OperatorSnapshotBytes> operators;
    SnapshotReport report;
    std::chrono::steady_clock::time_point submitted;
  };
  void write(Job& job);
  StoredSnapshot store(Job& job) const;
  static void remove_scratch(const Job& job);

  CheckpointStorage storage_;
  OnStored on_stored_;
  std::mutex mutex_;
  int64_t abandoned_up_to_ = 0;
  // Last: destroyed first, so queued snapshots are written while the rest
  // is alive.
  BackgroundWork thread_{"snapshot-writer"};
};

}  // namespace sluice
