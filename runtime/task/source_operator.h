// The operator at the head of every source task: it pulls batches from the
// source's reader, stamps event time into them in place, hands each batch on
// whole, tracks watermarks per split and emits the combined watermark (design
// section 5).
//
// Micro-batch mode (design section 10): the operator reads only the slices
// a batch hands it (start_slices). While reading it emits records but no
// watermark; at the slice's end it emits the watermark of the event times
// seen so far, and poll() returns kSliceEnd so that the task emits the
// batch's barrier. Between slices poll() waits. A source never ends on its
// own in this mode: once its reader finished (found while reading, or by a
// probe when planning finds every split at its end), the next slice ends
// with watermark +inf, so the batch fires every window, and end_batches()
// ends it after that. end_batches() before its input ended ends the source
// without ending event time (a later run resumes the windows).
//
// Watermark alignment (runtime/time/watermark_alignment.h), continuous
// mode only: a source that stamps event time reports each watermark it
// emits to its group, and nothing once it is idle or has ended; before each
// read it checks that its watermark is not beyond the group's allowance,
// and otherwise poll() asks the task to wait for its wakeup.
//
// Threading: on the source task's thread. The task calls poll() in a loop
// and waits until `wait_until` when a poll asks it to.
#pragma once

#include <algorithm>
#include <memory>
#include <optional>
#include <type_traits>
#include <vector>

#include "runtime/operator/operator.h"
#include "runtime/operator/source.h"
#include "runtime/time/split_watermarks.h"
#include "runtime/time/watermark_alignment.h"

namespace sluice {

// Every split position the old subtasks of a source stored.
inline std::vector<SplitPosition> restored_positions(const OperatorRestore& restore) {
  std::vector<SplitPosition> all;
  for (const std::string& bytes : restore.operator_states) {
    if (bytes.empty()) continue;
    for (SplitPosition& p :
         decode_versioned<std::vector<SplitPosition>>(kSourcePositionsFormat, bytes)) {
      all.push_back(std::move(p));
    }
  }
  return all;
}

class SourceOperatorBase : public OperatorBase {
 public:
  enum class Step { kProgress, kWait, kFinished, kSliceEnd };
  struct PollOutcome {
    Step step = Step::kProgress;
    Timestamp wait_until = kMaxTimestamp;
  };

  virtual PollOutcome poll(Timestamp now) = 0;
  // True while every unfinished split is idle.
  bool idle() const { return idle_; }
  // Sources have no input; their watermarks come from poll().
  void process_watermark(Timestamp) override {}

  // Micro-batch mode, before open().
  void enable_batches() { batches_ = true; }
  virtual std::vector<SplitSlice> plan_slices(uint64_t max_records) = 0;
  // Micro-batch mode: whether the end of a slice at `now` would emit a new
  // watermark or change the source's idleness (a split went idle), so that
  // a batch without data is worth running.
  virtual bool watermark_would_move(Timestamp now) const = 0;
  // Starts reading a slice; resets slice_rows().
  virtual void start_slices(const std::vector<SplitSlice>& slices) = 0;
  void end_batches() { batches_ended_ = true; }
  // Stop with drain: the input ends, with the maximum watermark, wherever
  // the reader stands: at the next poll (continuous mode), or in the next
  // batch, which reads nothing (micro-batch mode).
  void drain() { drain_requested_ = true; }
  SourceInput input() const { return input_; }
  // Records emitted in the current (or last) slice.
  int64_t slice_rows() const { return slice_rows_; }
  // The watermark emitted last (kMinTimestamp before the first).
  Timestamp emitted_watermark() const { return emitted_watermark_; }
  // Whether records get event time from the data (else only the end's
  // watermark comes, and aligning on it would hold every other source).
  virtual bool stamps_event_time() const = 0;
  // Before open(): member `member` of `group`.
  void join_alignment(WatermarkAlignmentGroup* group, size_t member) {
    alignment_ = group;
    alignment_member_ = member;
  }

 protected:
  // True when this source is ahead of its alignment group and must wait
  // for its wakeup before it reads again.
  bool ahead_of_group() {
    if (alignment_ == nullptr || batches_) return false;
    if (emitted_watermark_ <= alignment_->max_allowed()) {
      alignment_->resume(alignment_member_);
      return false;
    }
    alignment_->pause(alignment_member_);
    // Again after pausing: a report in between may not have seen the pause.
    if (emitted_watermark_ <= alignment_->max_allowed()) {
      alignment_->resume(alignment_member_);
      return false;
    }
    return true;
  }
  // What the group knows of this source: its watermark, or nullopt once it
  // holds nothing back (idle or ended).
  void report_to_group(std::optional<Timestamp> watermark) {
    if (alignment_ == nullptr || watermark == reported_) return;
    reported_ = watermark;
    alignment_->report(alignment_member_, watermark);
  }

  WatermarkAlignmentGroup* alignment_ = nullptr;
  size_t alignment_member_ = 0;
  std::optional<Timestamp> reported_ = kMinTimestamp;  // what a member starts as

  bool idle_ = false;
  bool batches_ = false;
  bool in_slice_ = false;
  bool batches_ended_ = false;
  bool drain_requested_ = false;
  SourceInput input_ = SourceInput::kOpen;
  int64_t slice_rows_ = 0;
  Timestamp emitted_watermark_ = kMinTimestamp;
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
    processing_time_ = &context.processing_time;
    SourceReaderContext reader_context;
    reader_context.subtask = info_.subtask;
    reader_context.parallelism = info_.parallelism;
    reader_context.task_name = info_.task_name;
    reader_context.clock = context.processing_time.clock();
    reader_context.metrics = &context.metrics;
    reader_->open(reader_context);
    if (context.restore != nullptr)
      reader_->restore_positions(restored_positions(*context.restore));
    Timestamp now = context.processing_time.now();
    for (int split : reader_->splits()) splits_.add_split(split, now);
  }

  PollOutcome poll(Timestamp now) override {
    if (batches_ended_) return {Step::kFinished};
    if (drain_requested_ && !batches_) {
      end_event_time();
      return {Step::kFinished};
    }
    if (batches_ && !in_slice_) return {Step::kWait, kMaxTimestamp};
    if (batches_ && input_ != SourceInput::kOpen) return end_slice(now);
    if (ahead_of_group()) return {Step::kWait, kMaxTimestamp};
    recycle_batch();
    ReadResult result = reader_->read(batch_, kMaxBatchRecords, now);
    switch (result.status) {
      case ReadStatus::kRecords:
        emit_records(result.split, now);
        return {Step::kProgress};
      case ReadStatus::kNotYet:
        if (!batches_) advance_watermark(now);
        return {Step::kWait, batches_ ? result.retry_at
                                      : std::min(result.retry_at, splits_.next_idle_deadline())};
      case ReadStatus::kSplitFinished:
        splits_.on_split_finished(result.split);
        if (!batches_) advance_watermark(now);
        return {Step::kProgress};
      case ReadStatus::kSliceEnd:
        return end_slice(now);
      case ReadStatus::kFinished:
        break;
    }
    if (batches_) {
      input_ = SourceInput::kEnding;
      return end_slice(now);
    }
    end_event_time();
    return {Step::kFinished};
  }

  void close() override {
    report_to_group(std::nullopt);
    reader_->close();
  }

  bool stamps_event_time() const override { return !std::is_same_v<TimestampFn, NoTimestamps>; }

  // A source's operator state: the positions of its splits.
  OperatorSnapshot snapshot_state(int64_t) override {
    return OperatorSnapshot{
        std::nullopt, encode_versioned(kSourcePositionsFormat, reader_->snapshot_positions()), {}};
  }

  void notify_checkpoint_complete(int64_t checkpoint_id) override {
    reader_->notify_checkpoint_complete(checkpoint_id);
  }

  std::vector<SplitSlice> plan_slices(uint64_t max_records) override {
    std::vector<SplitSlice> slices = reader_->plan_slices(max_records);
    if (drain_requested_ && input_ == SourceInput::kOpen) {
      for (SplitSlice& slice : slices) {
        slice.end = slice.start;
        slice.ended = false;
      }
      input_ = SourceInput::kEnding;  // the batch ends event time
      return slices;
    }
    bool all_at_end = std::all_of(slices.begin(), slices.end(), [](const SplitSlice& s) {
      return s.ended && s.start == s.available;
    });
    if (input_ == SourceInput::kOpen && all_at_end) probe_end();
    return slices;
  }

  bool watermark_would_move(Timestamp now) const override {
    if (input_ != SourceInput::kOpen) return false;  // the input's end goes out anyway
    std::optional<Timestamp> watermark = splits_.watermark(now);
    return watermark.has_value() == idle_ || (watermark && *watermark > emitted_watermark_);
  }

  void start_slices(const std::vector<SplitSlice>& slices) override {
    if (input_ == SourceInput::kOpen) reader_->start_slices(slices);
    in_slice_ = true;
    slice_rows_ = 0;
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
    metrics_->records_in.add(count);
    slice_rows_ += static_cast<int64_t>(count);
    splits_.on_records(split, max_ts, now);
    if (!batches_) advance_watermark(now);
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

  // A reader without anything left to read may have finished: one read of
  // an empty slice tells (it reads no records).
  void probe_end() {
    reader_->start_slices({});
    while (true) {
      recycle_batch();
      ReadResult result = reader_->read(batch_, kMaxBatchRecords, processing_time_->now());
      if (result.status == ReadStatus::kSplitFinished) {
        splits_.on_split_finished(result.split);
        continue;
      }
      if (result.status == ReadStatus::kFinished) input_ = SourceInput::kEnding;
      return;
    }
  }

  // Micro-batch mode: the watermark at the slice's end; +inf at the input's.
  PollOutcome end_slice(Timestamp now) {
    in_slice_ = false;
    if (input_ == SourceInput::kOpen) {
      advance_watermark(now);
    } else {
      end_event_time();
      input_ = SourceInput::kEnded;
    }
    return {Step::kSliceEnd};
  }

  void end_event_time() {
    if (emitted_watermark_ < kMaxTimestamp) {
      emitted_watermark_ = kMaxTimestamp;
      output_.emit_watermark(kMaxTimestamp);
    }
    idle_ = false;
    report_to_group(std::nullopt);
  }

  void advance_watermark(Timestamp now) {
    std::optional<Timestamp> watermark = splits_.watermark(now);
    idle_ = !watermark.has_value();
    if (watermark && *watermark > emitted_watermark_) {
      emitted_watermark_ = *watermark;
      output_.emit_watermark(*watermark);
    }
    report_to_group(idle_ ? std::nullopt : std::optional<Timestamp>(emitted_watermark_));
  }

  std::unique_ptr<SourceReader<T>> reader_;
  WatermarkStrategy<TimestampFn> strategy_;
  SplitWatermarks splits_;
  Output<T> output_;
  Batch<T> batch_;  // reused by every poll
  JobMetrics* metrics_ = nullptr;
  ProcessingTimeService* processing_time_ = nullptr;
};

}  // namespace sluice
