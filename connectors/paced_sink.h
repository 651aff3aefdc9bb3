// PacedSink: a sink that stands for a slow external system. Each writer
// takes at most `records_per_second` records per second (a token bucket on
// the task's clock) and waits for tokens inside write(), as a writer to a
// saturated database would wait for its acknowledgements; the records are
// then dropped. For backpressure measurements (bench/backpressure.sh).
//
// Threading: a writer is used only on its task's thread, and blocks that
// thread while it waits; a cancelled job ends after the batch being written.
#pragma once

#include <chrono>
#include <memory>
#include <thread>

#include "connectors/throttle.h"
#include "runtime/api/sink.h"

namespace sluice {

template <class T>
class PacedSink final : public Sink<T> {
 public:
  explicit PacedSink(double records_per_second) : rate_(records_per_second) {}
  std::unique_ptr<SinkWriter<T>> create_writer() const override {
    return std::make_unique<Writer>(rate_);
  }

 private:
  class Writer final : public SinkWriter<T> {
   public:
    explicit Writer(double rate) : throttle_(rate) {}
    void open(const SinkContext& context) override { clock_ = context.clock; }
    void write(Batch<T>& batch) override {
      size_t left = batch.size();
      while (left > 0) {
        Timestamp now = clock_->now_ms();
        size_t taken = throttle_.allowance(left, now);
        throttle_.consume(taken);
        left -= taken;
        if (left == 0) break;
        // sleep-ok: pacing, the model of a slow system, not synchronisation
        std::this_thread::sleep_for(std::chrono::milliseconds(throttle_.next_allowed(now) - now));
      }
    }

   private:
    Throttle throttle_;
    const Clock* clock_ = nullptr;
  };

  double rate_;
};

}  // namespace sluice
