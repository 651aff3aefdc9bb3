// PacedSink: a sink that stands for a slow external system. Each writer
// takes at most `records_per_second` records per second (a token bucket on
// the task's clock) and waits for tokens inside write(), as a writer to a
// saturated database would wait for its acknowledgements. The records then
// go to an inner sink, whose whole protocol (two-phase commit included) the
// writer passes on, or are dropped without one. For backpressure
// measurements (bench/backpressure.sh) and tests of unaligned checkpoints.
//
// Threading: a writer is used only on its task's thread, and blocks that
// thread while it waits; a cancelled job ends after the batch being written.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "connectors/throttle.h"
#include "runtime/operator/sink.h"

namespace sluice {

template <class T>
class PacedSink final : public Sink<T> {
 public:
  explicit PacedSink(double records_per_second, std::shared_ptr<const Sink<T>> inner = nullptr)
      : rate_(records_per_second), inner_(std::move(inner)) {}
  std::unique_ptr<SinkWriter<T>> create_writer() const override {
    return std::make_unique<Writer>(rate_, inner_ ? inner_->create_writer() : nullptr);
  }

 private:
  class Writer final : public SinkWriter<T> {
   public:
    Writer(double rate, std::unique_ptr<SinkWriter<T>> inner)
        : throttle_(rate), inner_(std::move(inner)) {}
    void open(const SinkContext& context) override {
      clock_ = context.clock;
      if (inner_) inner_->open(context);
    }
    void write(Batch<T>& batch) override {
      wait_for_tokens(batch.size());
      if (inner_) inner_->write(batch);
    }
    void on_watermark(Timestamp watermark) override {
      if (inner_) inner_->on_watermark(watermark);
    }
    void finish() override {
      if (inner_) inner_->finish();
    }
    void close() override {
      if (inner_) inner_->close();
    }
    std::string prepare_commit(int64_t id) override {
      return inner_ ? inner_->prepare_commit(id) : std::string();
    }
    void commit(int64_t id) override {
      if (inner_) inner_->commit(id);
    }
    void recover(const std::vector<std::string>& prepared) override {
      if (inner_) inner_->recover(prepared);
    }

   private:
    void wait_for_tokens(size_t records) {
      size_t left = records;
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

    Throttle throttle_;
    std::unique_ptr<SinkWriter<T>> inner_;
    const Clock* clock_ = nullptr;
  };

  double rate_;
  std::shared_ptr<const Sink<T>> inner_;
};

}  // namespace sluice
