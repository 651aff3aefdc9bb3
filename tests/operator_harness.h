// Drives one operator without a runtime: pushes records and watermarks,
// moves a manual processing-time clock, and collects what the operator
// emits (main output and one side output).
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
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
  StateBackendConfig state{};  // memory unless set
  bool unaligned = false;
};

// Processing time read from a manual clock, and no timers or wakeups: for
// operators driven by hand outside a harness.
struct ClockOnlyTimeService final : ProcessingTimeService {
  explicit ClockOnlyTimeService(const ManualClock& clock) : manual(clock) {}
  Timestamp now() const override { return manual.now_ms(); }
  const Clock* clock() const override { return &manual; }
  void schedule(Timestamp, OperatorBase*) override {}
  void request_wakeup(OperatorBase*) override {}
  const ManualClock& manual;
};

// What every harness shares: the operator's context and state, a manual
// processing-time clock with the timers it fires, and the wakeups the
// operator requested from other threads.
class HarnessServices : public ProcessingTimeService {
 public:
  Timestamp now() const override { return clock_.now_ms(); }
  const Clock* clock() const override { return &clock_; }
  void schedule(Timestamp at, OperatorBase*) override { timers_.push(at); }
  void request_wakeup(OperatorBase*) override {
    std::lock_guard lock(wakeup_mutex_);
    wakeup_requested_ = true;
    wakeup_cv_.notify_all();
  }

  // Moves processing time and fires what became due, as the task would.
  void advance_processing_time(DurationMs by) {
    clock_.advance(by);
    while (!timers_.empty() && timers_.top() <= clock_.now_ms()) {
      timers_.pop();
      op_->on_processing_time(clock_.now_ms());
    }
  }
  // Delivers a requested wakeup, waiting up to `timeout` for one; false
  // when none came.
  bool deliver_wakeup(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    {
      std::unique_lock lock(wakeup_mutex_);
      if (!wakeup_cv_.wait_for(lock, timeout, [this] { return wakeup_requested_; })) return false;
      wakeup_requested_ = false;
    }
    op_->on_wakeup();
    return true;
  }
  // The operator's snapshot with its deferred states encoded, as the
  // checkpoint writer stores it.
  OperatorSnapshot snapshot(int64_t checkpoint_id) {
    OperatorSnapshot snapshot = op_->snapshot_state(checkpoint_id);
    state_->complete_snapshot(checkpoint_id, CheckpointKind::kCheckpoint, snapshot);
    if (snapshot.keyed) snapshot.keyed->complete_deferred();
    return snapshot;
  }
  void watermark(Timestamp wm) { op_->process_watermark(wm); }
  void finish() { op_->finish(); }

  JobMetrics metrics;

 protected:
  explicit HarnessServices(Timestamp start) : clock_(start) {}
  ~HarnessServices() override = default;

  void open(OperatorBase& op, const HarnessSetup& setup) {
    op_ = &op;
    OperatorInfo info;
    info.name = "under-test";
    info.task_name = "test/under-test/" + std::to_string(setup.subtask);
    info.subtask = setup.subtask;
    info.parallelism = setup.parallelism;
    op.set_info(info);
    state_ = std::make_unique<OperatorStateHandler>(op, setup.state, setup.restore);
    context_ = std::make_unique<OperatorContext>(OperatorContext{
        op.info(), *this, metrics, state_->backend(), setup.restore, false, setup.unaligned});
    op.open(*context_);
  }
  void close() {
    if (op_ != nullptr) op_->close();
  }

 private:
  OperatorBase* op_ = nullptr;
  ManualClock clock_;
  std::priority_queue<Timestamp, std::vector<Timestamp>, std::greater<>> timers_;
  std::mutex wakeup_mutex_;
  std::condition_variable wakeup_cv_;
  bool wakeup_requested_ = false;

 protected:
  // Declared after the clock, destroyed before it; the harness's operator
  // (declared in the subclass) goes first, as its state handles point here.
  std::unique_ptr<OperatorStateHandler> state_;
  std::unique_ptr<OperatorContext> context_;
};

template <class In, class Out>
class OperatorHarness final : public HarnessServices {
 public:
  explicit OperatorHarness(std::unique_ptr<OneInputOperator<In, Out>> op, HarnessSetup setup = {})
      : HarnessServices(setup.start), op_(std::move(op)) {
    op_->output().set_target(&output);
    open(*op_, setup);
  }
  ~OperatorHarness() override { close(); }

  void push(In value, Timestamp ts) {
    Batch<In> batch;
    batch.push_back(Record<In>{std::move(value), ts});
    op_->push_batch(batch);
  }
  OneInputOperator<In, Out>& op() { return *op_; }

  CollectingDownstream<Out> output;

 private:
  std::unique_ptr<OneInputOperator<In, Out>> op_;
};

// The same for an operator with two inputs.
template <class A, class B, class Out>
class TwoInputHarness final : public HarnessServices {
 public:
  explicit TwoInputHarness(std::unique_ptr<TwoInputOperator<A, B, Out>> op, HarnessSetup setup = {})
      : HarnessServices(setup.start), op_(std::move(op)) {
    op_->output().set_target(&output);
    open(*op_, setup);
  }
  ~TwoInputHarness() override { close(); }

  void push1(A value, Timestamp ts) {
    Batch<A> batch;
    batch.push_back(Record<A>{std::move(value), ts});
    op_->first_input()->push_batch(batch);
  }
  void push2(B value, Timestamp ts) {
    Batch<B> batch;
    batch.push_back(Record<B>{std::move(value), ts});
    op_->second_input()->push_batch(batch);
  }

  CollectingDownstream<Out> output;

 private:
  std::unique_ptr<TwoInputOperator<A, B, Out>> op_;
};

}  // namespace sluice::testing
