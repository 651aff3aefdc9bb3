// Drives one operator without a runtime: pushes records and watermarks,
// moves a manual processing-time clock, and collects what the operator
// emits (main output and one side output).
#pragma once

#include <memory>
#include <queue>
#include <vector>

#include "runtime/operator/operator.h"
#include "runtime/task/operator_state_handler.h"

namespace sluice::testing {

template <class T>
struct CollectingDownstream final : Downstream<T> {
  std::vector<Record<T>> records;
  std::vector<Timestamp> watermarks;
  void push_batch(Batch<T>& batch) override {
    for (auto& r : batch) records.push_back(std::move(r));
  }
  void push_watermark(Timestamp wm) override { watermarks.push_back(wm); }
  std::vector<T> take() {
    std::vector<T> out;
    for (auto& r : records) out.push_back(std::move(r.value));
    records.clear();
    return out;
  }
};

// Where the operator under test runs: its subtask, and the state it
// resumes from.
struct HarnessSetup {
  int subtask = 0;
  int parallelism = 1;
  Timestamp start = 0;  // processing time
  const OperatorRestore* restore = nullptr;
  StateBackendConfig state;  // memory unless set
};

template <class In, class Out>
class OperatorHarness final : public ProcessingTimeService {
 public:
  explicit OperatorHarness(std::unique_ptr<OneInputOperator<In, Out>> op, HarnessSetup setup = {})
      : op_(std::move(op)), clock_(setup.start) {
    op_->output().set_target(&output);
    OperatorInfo info;
    info.name = "under-test";
    info.task_name = "test/under-test/" + std::to_string(setup.subtask);
    info.subtask = setup.subtask;
    info.parallelism = setup.parallelism;
    op_->set_info(info);
    state_ = std::make_unique<OperatorStateHandler>(*op_, setup.state, setup.restore);
    context_ = std::make_unique<OperatorContext>(
        OperatorContext{op_->info(), *this, metrics, state_->backend(), setup.restore, false});
    op_->open(*context_);
  }

  // The operator's snapshot with its deferred states encoded, as the
  // checkpoint writer stores it.
  OperatorSnapshot snapshot(int64_t checkpoint_id) {
    OperatorSnapshot snapshot = op_->snapshot_state(checkpoint_id);
    state_->complete_snapshot(checkpoint_id, snapshot);
    if (snapshot.keyed) snapshot.keyed->complete_deferred();
    return snapshot;
  }

  void push(In value, Timestamp ts) {
    Batch<In> batch;
    batch.push_back(Record<In>{std::move(value), ts});
    op_->push_batch(batch);
  }
  void watermark(Timestamp wm) { op_->push_watermark(wm); }
  void finish() { op_->finish(); }
  // Moves processing time and fires what became due, as the task would.
  void advance_processing_time(DurationMs by) {
    clock_.advance(by);
    while (!timers_.empty() && timers_.top() <= clock_.now_ms()) {
      timers_.pop();
      op_->on_processing_time(clock_.now_ms());
    }
  }

  Timestamp now() const override { return clock_.now_ms(); }
  const Clock* clock() const override { return &clock_; }
  void schedule(Timestamp at, OperatorBase*) override { timers_.push(at); }

  CollectingDownstream<Out> output;
  JobMetrics metrics;

 private:
  // Declared first, destroyed last: the operator's state handles point into it.
  std::unique_ptr<OperatorStateHandler> state_;
  std::unique_ptr<OneInputOperator<In, Out>> op_;
  ManualClock clock_;
  std::unique_ptr<OperatorContext> context_;
  std::priority_queue<Timestamp, std::vector<Timestamp>, std::greater<>> timers_;
};

}  // namespace sluice::testing
