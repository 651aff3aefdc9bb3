// Runs a SinkWriter as the last operator of a chain and counts its records.
// Threading: on the task thread.
#pragma once

#include <atomic>
#include <memory>

#include "runtime/operator/operator.h"
#include "runtime/operator/sink.h"

namespace sluice {

template <class T>
class SinkOperator final : public InputOperator<T> {
 public:
  explicit SinkOperator(std::unique_ptr<SinkWriter<T>> writer) : writer_(std::move(writer)) {}

  void open(OperatorContext& context) override {
    metrics_ = &context.metrics;
    watermark_slot_ = metrics_->add_sink_watermark_slot();
    SinkContext sink_context;
    sink_context.subtask = this->info_.subtask;
    sink_context.parallelism = this->info_.parallelism;
    sink_context.task_name = this->info_.task_name;
    sink_context.clock = context.processing_time.clock();
    sink_context.metrics = metrics_;
    sink_context.checkpointing = context.checkpointing;
    writer_->open(sink_context);
    if (context.restore != nullptr) writer_->recover(context.restore->operator_states);
  }
  OperatorSnapshot snapshot_state(int64_t checkpoint_id) override {
    return OperatorSnapshot{std::nullopt, writer_->prepare_commit(checkpoint_id), {}};
  }
  void notify_checkpoint_complete(int64_t checkpoint_id) override {
    writer_->commit(checkpoint_id);
  }
  void process_batch(Batch<T>& batch) override {
    metrics_->records_out.add(batch.size());
    writer_->write(batch);
  }
  void process_watermark(Timestamp watermark) override {
    writer_->on_watermark(watermark);
    watermark_slot_->store(watermark, std::memory_order_relaxed);  // no lock per watermark
  }
  void finish() override { writer_->finish(); }
  void close() override { writer_->close(); }

 private:
  std::unique_ptr<SinkWriter<T>> writer_;
  JobMetrics* metrics_ = nullptr;
  std::atomic<Timestamp>* watermark_slot_ = nullptr;
};

}  // namespace sluice
