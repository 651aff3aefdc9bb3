// The operator interface. An operator is created per subtask by its node's
// factory; the runtime calls it only on its task's thread.
//
// Lifecycle: construct -> open(context) -> any number of process_batch,
// process_watermark and on_processing_time calls -> finish() once at the end
// of input (emit what is buffered) -> close(). An exception thrown anywhere
// fails the job with a message that names the operator and its subtask.
//
// Required core, defaulted hooks: a one-input operator implements only
// process_batch; watermarks are forwarded and timers ignored by default.
#pragma once

#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/core/clock.h"
#include "runtime/core/errors.h"
#include "runtime/metrics/metrics.h"
#include "runtime/operator/output.h"
#include "runtime/state_backend/keyed_state_backend.h"
#include "state/key_groups.h"

namespace sluice {

class OperatorBase;

// Where operators ask for processing-time callbacks. Implemented by the task
// (and by the test harness, which drives it with a manual clock).
class ProcessingTimeService {
 public:
  virtual ~ProcessingTimeService() = default;
  virtual Timestamp now() const = 0;
  virtual const Clock* clock() const = 0;
  // Calls op->on_processing_time(now) on the task thread once now >= at.
  virtual void schedule(Timestamp at, OperatorBase* op) = 0;
  // From any thread: op->on_wakeup() runs on the task thread soon after.
  // For operators that wait on work of other threads (asynchronous
  // lookups); the caller makes sure `op` is still open.
  virtual void request_wakeup(OperatorBase* op) = 0;
};

// What one operator subtask writes at a checkpoint: its keyed state (with
// its timers) and opaque operator state, e.g. source positions.
struct OperatorSnapshot {
  std::optional<KeyedSnapshot> keyed;
  std::string operator_state;  // empty for none
  SnapshotFiles files;         // files for the checkpoint writer to store
};

// What a restored operator subtask receives: the state every subtask of
// the old run wrote. A keyed operator keeps the entries of its key groups;
// others decide what to take (a source keeps the positions of its splits).
struct OperatorRestore {
  std::vector<KeyedSnapshot> keyed;
  std::vector<std::string> operator_states;
};

// Who and where an operator subtask is.
struct OperatorInfo {
  std::string name;       // the operator's stable name in the topology
  std::string task_name;  // "job/vertex/subtask" for log lines
  int subtask = 0;
  int parallelism = 1;
  int max_parallelism = kDefaultMaxParallelism;
  KeyHashing key_hashing = KeyHashing::kXxh3;  // how keys map to key groups
};

// Runtime services handed to open().
struct OperatorContext {
  const OperatorInfo& info;
  ProcessingTimeService& processing_time;
  JobMetrics& metrics;
  // An operator that keeps keyed state gets its backend here, created for
  // its key groups and restored by the runtime, which also snapshots it
  // (runtime/task/operator_state_handler.h); null for other operators.
  KeyedStateBackend* keyed_state = nullptr;
  // Set when the job resumes from a checkpoint; read in open().
  const OperatorRestore* restore = nullptr;
  // Whether the job takes checkpoints (two-phase sinks stage their output).
  bool checkpointing = false;
  // Whether its checkpoints are unaligned: subtasks of one operator may
  // then snapshot at different points of a broadcast input.
  bool unaligned = false;

  KeyGroupRange key_groups() const {
    return key_group_range_for_subtask(info.max_parallelism, info.parallelism, info.subtask);
  }
};

// Thrown when a user function or operator fails; names the operator.
class OperatorFailure : public SluiceError {
 public:
  OperatorFailure(ErrorKind kind, const std::string& message) : SluiceError(kind, message) {}
};

// Wraps the exception in flight into an OperatorFailure naming `info`, unless
// it already names an operator (a failure further down the chain).
[[noreturn]] void rethrow_as_operator_failure(const OperatorInfo& info);

class OperatorBase {
 public:
  virtual ~OperatorBase() = default;

  // Whether the operator keeps keyed state: the runtime then creates,
  // restores and snapshots a backend for it (OperatorContext::keyed_state).
  virtual bool keeps_keyed_state() const { return false; }

  virtual void open(OperatorContext& context) {}
  // The operator's event-time clock moved to `watermark`.
  virtual void process_watermark(Timestamp watermark) = 0;
  // A processing-time callback the operator scheduled is due.
  virtual void on_processing_time(Timestamp now) {}
  // The wakeup the operator requested (ProcessingTimeService) is here.
  virtual void on_wakeup() {}
  // Whether the operator takes more records now. An operator that says no
  // (asynchronous requests at their bound) holds its task's input back
  // until it requests a wakeup and says yes again.
  virtual bool has_input_room() const { return true; }
  // Work the operator waits on (requests in flight) that finish() needs
  // done: the task keeps serving wakeups and timers until there is none.
  virtual bool has_pending_work() const { return false; }
  // End of input: emit everything still buffered.
  virtual void finish() {}
  virtual void close() {}

  // Checkpoint `id`'s barrier passed: everything before it is processed and
  // nothing after it. Returns what a restore needs besides the keyed state,
  // which the runtime adds; must be quick (the task waits), so it copies
  // rather than writes.
  virtual OperatorSnapshot snapshot_state(int64_t checkpoint_id) { return {}; }
  // Checkpoint `id` completed everywhere: two-phase sinks commit now.
  virtual void notify_checkpoint_complete(int64_t checkpoint_id) {}

  const OperatorInfo& info() const { return info_; }
  void set_info(OperatorInfo info) { info_ = std::move(info); }

 protected:
  OperatorInfo info_;
};

// An operator that consumes a stream of In.
template <class In>
class InputOperator : public OperatorBase, public Downstream<In> {
 public:
  virtual void process_batch(Batch<In>& batch) = 0;

  void push_batch(Batch<In>& batch) final {
    try {
      process_batch(batch);
    } catch (...) {
      rethrow_as_operator_failure(info_);
    }
  }
  void push_watermark(Timestamp watermark) final {
    try {
      process_watermark(watermark);
    } catch (...) {
      rethrow_as_operator_failure(info_);
    }
  }
};

// An operator with one input of In and a main output of Out.
template <class In, class Out>
class OneInputOperator : public InputOperator<In> {
 public:
  Output<Out>& output() { return output_; }
  void process_watermark(Timestamp watermark) override { output_.emit_watermark(watermark); }
  void finish() override { output_.flush(); }

 protected:
  Output<Out> output_;
};

// An operator with two inputs of different types (In1, In2) and a main
// output of Out: a connected stream's process function, a join. The task
// hands it the smallest watermark of all its input channels, so it sees one
// event-time clock for both inputs.
template <class In1, class In2, class Out>
class TwoInputOperator : public OperatorBase {
 public:
  TwoInputOperator() : first_(*this), second_(*this) {}
  TwoInputOperator(const TwoInputOperator&) = delete;
  TwoInputOperator& operator=(const TwoInputOperator&) = delete;

  virtual void process_batch1(Batch<In1>& batch) = 0;
  virtual void process_batch2(Batch<In2>& batch) = 0;

  Output<Out>& output() { return output_; }
  Downstream<In1>* first_input() { return &first_; }
  Downstream<In2>* second_input() { return &second_; }
  void process_watermark(Timestamp watermark) override { output_.emit_watermark(watermark); }
  void finish() override { output_.flush(); }

 protected:
  Output<Out> output_;

 private:
  // The typed entry point of one input.
  template <class In, bool kFirst>
  class Entry final : public Downstream<In> {
   public:
    explicit Entry(TwoInputOperator& op) : op_(op) {}
    void push_batch(Batch<In>& batch) override {
      try {
        if constexpr (kFirst) {
          op_.process_batch1(batch);
        } else {
          op_.process_batch2(batch);
        }
      } catch (...) {
        rethrow_as_operator_failure(op_.info());
      }
    }
    void push_watermark(Timestamp watermark) override {
      try {
        op_.process_watermark(watermark);
      } catch (...) {
        rethrow_as_operator_failure(op_.info());
      }
    }

   private:
    TwoInputOperator& op_;
  };

  Entry<In1, true> first_;
  Entry<In2, false> second_;
};

}  // namespace sluice
