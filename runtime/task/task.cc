#include "runtime/task/task.h"

#include <algorithm>
#include <chrono>

#include "runtime/core/logging.h"

namespace sluice {
namespace {

// The longest a task waits without re-checking for cancellation.
constexpr Timestamp kMaxWaitMs = 100;

}  // namespace

Task::Task(std::string name, JobControl& control, JobMetrics& metrics, const Clock& clock,
           StateBackendConfig state_backend)
    : name_(std::move(name)),
      control_(control),
      metrics_(metrics),
      clock_(clock),
      state_backend_(std::move(state_backend)) {}

Task::~Task() = default;

void Task::add_operator(std::unique_ptr<OperatorBase> op) { operators_.push_back(std::move(op)); }

void Task::run() {
  try {
    open_operators();
    if (source_ != nullptr) {
      run_source_loop();
    } else {
      run_input_loop();
    }
    finish_operators();
    for (auto& writer : writers_) writer->send_end();
  } catch (const CancelledError&) {
    // The job is going down for another reason; nothing to report.
  } catch (const SluiceError& e) {
    control_.fail(e.kind(), e.what());
  } catch (const std::exception& e) {
    control_.fail(ErrorKind::kInternal, "task " + name_ + ": " + e.what());
  }
  close_operators();
  control_.task_done();
}

void Task::open_operators() {
  // Tail first, so every operator's downstream is ready when it opens.
  for (auto it = operators_.rbegin(); it != operators_.rend(); ++it) {
    OperatorBase& op = **it;
    contexts_.push_back(std::make_unique<OperatorContext>(
        OperatorContext{op.info(), *this, metrics_, state_backend_, nullptr}));
    try {
      op.open(*contexts_.back());
    } catch (...) {
      rethrow_as_operator_failure(op.info());
    }
  }
  valve_ = std::make_unique<WatermarkValve>(static_cast<int>(readers_.size()));
  ended_.assign(readers_.size(), false);
}

void Task::run_source_loop() {
  while (true) {
    check_cancelled();
    fire_due_timers();
    SourceOperatorBase::PollOutcome outcome;
    try {
      outcome = source_->poll(now());
    } catch (...) {
      rethrow_as_operator_failure(source_->info());
    }
    flush_writers();
    set_idle(source_->idle());
    if (outcome.step == SourceOperatorBase::Step::kFinished) return;
    if (outcome.step == SourceOperatorBase::Step::kWait) wait_for_work(outcome.wait_until);
  }
}

void Task::run_input_loop() {
  while (ended_count_ < readers_.size()) {
    check_cancelled();
    fire_due_timers();
    if (poll_inputs()) {
      flush_writers();
    } else {
      wait_for_work(kMaxTimestamp);
    }
  }
}

bool Task::poll_inputs() {
  size_t n = readers_.size();
  for (size_t i = 0; i < n; ++i) {
    size_t input = (next_input_ + i) % n;
    if (ended_[input]) continue;
    Polled polled = readers_[input]->poll();
    if (!polled.got) continue;
    next_input_ = (input + 1) % n;
    if (polled.kind != ElementKind::kBatch) on_control(polled, input);
    return true;
  }
  return false;
}

void Task::on_control(const Polled& polled, size_t input) {
  int index = static_cast<int>(input);
  switch (polled.kind) {
    case ElementKind::kWatermark:
      advance_watermark(valve_->on_watermark(index, polled.watermark));
      break;
    case ElementKind::kIdle:
    case ElementKind::kActive:
      advance_watermark(valve_->on_idle(index, polled.kind == ElementKind::kIdle));
      break;
    case ElementKind::kEnd:
      ended_[input] = true;
      ++ended_count_;
      advance_watermark(valve_->on_end(index));
      break;
    case ElementKind::kBatch:
      break;
  }
  set_idle(valve_->all_idle());
}

void Task::advance_watermark(std::optional<Timestamp> watermark) {
  if (!watermark) return;
  OperatorBase& head = *operators_.front();
  try {
    head.process_watermark(*watermark);
  } catch (...) {
    rethrow_as_operator_failure(head.info());
  }
}

void Task::set_idle(bool idle) {
  if (idle == idle_) return;
  idle_ = idle;
  for (auto& writer : writers_) writer->send_idle(idle);
}

void Task::fire_due_timers() {
  if (timers_.empty()) return;
  Timestamp current = now();
  while (!timers_.empty() && timers_.top().at <= current) {
    OperatorBase* op = timers_.top().op;
    timers_.pop();
    try {
      op->on_processing_time(current);
    } catch (...) {
      rethrow_as_operator_failure(op->info());
    }
  }
  flush_writers();
}

void Task::wait_for_work(Timestamp until) {
  if (!timers_.empty()) until = std::min(until, timers_.top().at);
  Timestamp wait = kMaxWaitMs;
  if (until != kMaxTimestamp) wait = std::clamp<Timestamp>(until - now(), 0, kMaxWaitMs);
  if (wait > 0) wakeup_.wait_for(std::chrono::milliseconds(wait));
}

void Task::finish_operators() {
  for (auto& op : operators_) {
    try {
      op->finish();
    } catch (...) {
      rethrow_as_operator_failure(op->info());
    }
  }
  flush_writers();
}

void Task::flush_writers() {
  for (auto& writer : writers_) writer->flush();
}

void Task::close_operators() {
  for (auto& op : operators_) {
    try {
      op->close();
    } catch (const std::exception& e) {
      log::runtime()->warn("{}: closing operator '{}' failed: {}", name_, op->info().name,
                           e.what());
    }
  }
}

void Task::check_cancelled() const {
  if (control_.cancelled()) throw CancelledError();
}

}  // namespace sluice
