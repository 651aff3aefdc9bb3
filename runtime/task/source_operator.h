// The operator at the head of every source task: it pulls batches from the
// source's reader, stamps event time into them in place, hands each batch on
// whole, tracks watermarks per split and emits the combined watermark (design
// section 5).
//
// Threading: on the source task's thread. The task calls poll() in a loop
// and waits until `wait_until` when a poll asks it to.
#pragma once

#include <algorithm>
#include <memory>
#include <vector>

#include "runtime/api/operator.h"
#include "runtime/api/source.h"
#include "runtime/time/split_watermarks.h"

namespace sluice {

// Every split position the old subtasks of a source stored.
inline std::vector<SplitPosition> restored_positions(const OperatorRestore& restore) {
  std::vector<SplitPosition> all;
  for (const std::string& bytes : restore.operator_states) {
    if (bytes.empty()) continue;
    for (SplitPosition& p : decode_from_string<std::vector<SplitPosition>>(bytes)) {
      all.push_back(std::move(p));
    }
  }
  return all;
}

class SourceOperatorBase : public OperatorBase {
 public:
  enum class Step { kProgress, kWait, kFinished };
  struct PollOutcome {
    Step step = Step::kProgress;
    Timestamp wait_until = kMaxTimestamp;
  };

  virtual PollOutcome poll(Timestamp now) = 0;
  // True while every unfinished split is idle.
  bool idle() const { return idle_; }
  // Sources have no input; their watermarks come from poll().
  void process_watermark(Timestamp) override {}

 protected:
  bool idle_ = false;
};

template <class T, class TimestampFn>
class SourceOperator final : public SourceOperatorBase {
 public:
  SourceOperator(std::unique_ptr<SourceReader<T>> reader, WatermarkStrategy<TimestampFn> strategy)
      : reader_(std::move(reader)),
        strategy_(std::move(strategy)),
        splits_(strategy_.out_of_orderness, strategy_.idle_timeout) {
    batch_.reserve(kMaxBatchRecords);
  }

  Output<T>& output() { return output_; }

  void open(OperatorContext& context) override {
    metrics_ = &context.metrics;
    SourceReaderContext reader_context;
    reader_context.subtask = info_.subtask;
    reader_context.parallelism = info_.parallelism;
    reader_context.task_name = info_.task_name;
    reader_context.clock = context.processing_time.clock();
    reader_context.metrics = &context.metrics;
    reader_->open(reader_context);
    if (context.restore != nullptr) reader_->restore_positions(restored_positions(*context.restore));
    Timestamp now = context.processing_time.now();
    for (int split : reader_->splits()) splits_.add_split(split, now);
  }

  PollOutcome poll(Timestamp now) override {
    recycle_batch();
    ReadResult result = reader_->read(batch_, kMaxBatchRecords, now);
    switch (result.status) {
      case ReadStatus::kRecords:
        emit_records(result.split, now);
        return {Step::kProgress};
      case ReadStatus::kNotYet:
        advance_watermark(now);
        return {Step::kWait, std::min(result.retry_at, splits_.next_idle_deadline())};
      case ReadStatus::kSplitFinished:
        splits_.on_split_finished(result.split);
        advance_watermark(now);
        return {Step::kProgress};
      case ReadStatus::kFinished:
        break;
    }
    if (emitted_watermark_ < kMaxTimestamp) {
      emitted_watermark_ = kMaxTimestamp;
      output_.emit_watermark(kMaxTimestamp);
    }
    idle_ = false;
    return {Step::kFinished};
  }

  void close() override { reader_->close(); }

  // A source's operator state: the positions of its splits.
  OperatorSnapshot snapshot_state(int64_t) override {
    return OperatorSnapshot{std::nullopt, encode_to_string(reader_->snapshot_positions()), {}};
  }

  void notify_checkpoint_complete(int64_t checkpoint_id) override {
    reader_->notify_checkpoint_complete(checkpoint_id);
  }

 private:
  void emit_records(int split, Timestamp now) {
    if (batch_.empty()) return;
    Timestamp max_ts = kMinTimestamp;
    for (Record<T>& record : batch_) {
      record.timestamp = strategy_.timestamp_of(record.value);
      max_ts = std::max(max_ts, record.timestamp);
    }
    const size_t count = batch_.size();  // emit_batch may swap the batch away
    output_.emit_batch(batch_);
    metrics_->records_in.fetch_add(count, std::memory_order_relaxed);
    splits_.on_records(split, max_ts, now);
    advance_watermark(now);
  }

  // Empties the batch before each read: this is the clearing emit_batch leaves
  // to its caller, done here so that no path (an exception from downstream
  // included) can leave stale records for the next read. Downstream may have
  // swapped the vector away (a ForwardWriter sends the vector itself), so the
  // capacity is restored when it dropped.
  void recycle_batch() {
    batch_.clear();
    if (batch_.capacity() < kMaxBatchRecords) batch_.reserve(kMaxBatchRecords);
  }

  void advance_watermark(Timestamp now) {
    std::optional<Timestamp> watermark = splits_.watermark(now);
    idle_ = !watermark.has_value();
    if (watermark && *watermark > emitted_watermark_) {
      emitted_watermark_ = *watermark;
      output_.emit_watermark(*watermark);
    }
  }

  std::unique_ptr<SourceReader<T>> reader_;
  WatermarkStrategy<TimestampFn> strategy_;
  SplitWatermarks splits_;
  Output<T> output_;
  Batch<T> batch_;  // reused by every poll
  Timestamp emitted_watermark_ = kMinTimestamp;
  JobMetrics* metrics_ = nullptr;
};

}  // namespace sluice
