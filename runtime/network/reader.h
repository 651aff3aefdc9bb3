// The consuming end of a channel: pops one element at a time and hands
// batches to the task's head operator; the task handles the rest
// (watermarks, idleness, barriers, end of input).
//
// Unaligned checkpoints (runtime/task/task.h): what this input delivered
// after the task's snapshot but was sent before its producer's snapshot is
// the channel's in-flight data, stored with the checkpoint in the channels'
// wire form (batches, watermarks, idleness; no barriers or ends). It is
// recorded in two parts: the elements the task takes from the channel
// before the producer's barrier (which overtakes the queue) arrives, and,
// once it has, the elements queued between the barrier and its
// kBarrierMark, read in place without waiting for the task to process them
// (what a remote edge has not delivered yet is recorded as it arrives). A
// restored reader hands on such recorded elements first, before anything
// from its channel.
//
// Threading: used only on the consuming task's thread.
#pragma once

#include <deque>
#include <string>
#include <string_view>

#include "runtime/network/channel.h"
#include "runtime/network/element_codec.h"
#include "runtime/operator/output.h"

namespace sluice {

struct Polled {
  bool got = false;
  ElementKind kind = ElementKind::kBatch;
  Timestamp watermark = kMinTimestamp;
  int64_t checkpoint = 0;
  size_t records = 0;  // in a batch
  CheckpointKind checkpoint_kind = CheckpointKind::kCheckpoint;
};

class ChannelReaderBase {
 public:
  virtual ~ChannelReaderBase() = default;
  // Takes one element if there is one; a batch goes to the target at once.
  virtual Polled poll() = 0;
  // As poll(), but takes the next element only if it is a barrier.
  virtual Polled poll_barrier() = 0;
  // Throws UsageError when the records have no codec to record them with.
  virtual void require_codec() const = 0;
  // Starts recording for `checkpoint`; `barrier_here`: this input just
  // delivered the checkpoint's barrier.
  virtual void record_until_mark(int64_t checkpoint, bool barrier_here) = 0;
  bool recording() const { return recording_ != 0; }
  // Drops what was recorded (an aborted checkpoint).
  void stop_recording() {
    recording_ = 0;
    awaiting_barrier_ = false;
    skip_ = 0;
    recorded_.clear();
  }
  // The elements recorded so far (length-prefixed wire elements); clears.
  std::string take_recorded() { return std::exchange(recorded_, {}); }
  // Elements recorded by a checkpoint, handed on before the channel's own;
  // throws InputError on malformed bytes.
  virtual void replay(std::string_view recorded) = 0;
  // From now on batches are dropped, not handed to the target (the task
  // took a stop savepoint); they are still recorded while recording.
  void discard_data() { discarding_ = true; }

 protected:
  int64_t recording_ = 0;          // the checkpoint whose mark ends the recording
  bool awaiting_barrier_ = false;  // its barrier has not come through here yet
  size_t skip_ = 0;                // elements recorded in place that poll() still hands on
  std::string recorded_;
  bool discarding_ = false;
};

template <class T>
class ChannelReader final : public ChannelReaderBase {
 public:
  ChannelReader(Channel<T>* channel, Downstream<T>* target) : channel_(channel), target_(target) {}

  Polled poll() override {
    if (!next_element()) return Polled{};
    if (recording_ != 0) on_recorded_input();
    size_t records = 0;
    if (element_.kind == ElementKind::kBatch) {
      records = element_.batch.size();
      if (!discarding_) target_->push_batch(element_.batch);
      element_.batch.clear();
    }
    return Polled{true,    element_.kind,           element_.watermark, element_.checkpoint,
                  records, element_.checkpoint_kind};
  }

  Polled poll_barrier() override {
    if (!replay_.empty() || !channel_->try_pop_barrier(element_)) return Polled{};
    if (recording_ != 0) on_recorded_input();
    return Polled{true, element_.kind,           element_.watermark, element_.checkpoint,
                  0,    element_.checkpoint_kind};
  }

  void require_codec() const override {
    if constexpr (!WireEncodable<T>) throw no_wire_codec_error<T>();
  }
  void record_until_mark(int64_t checkpoint, bool barrier_here) override {
    require_codec();
    recording_ = checkpoint;
    awaiting_barrier_ = !barrier_here;
    skip_ = 0;
    if (barrier_here) record_queued();
  }

  void replay(std::string_view recorded) override {
    if constexpr (WireEncodable<T>) {
      decode_recorded_elements<T>(recorded, replay_);
    } else {
      throw no_wire_codec_error<T>();
    }
  }

 private:
  bool next_element() {
    if (replay_.empty()) return channel_->try_pop(element_);
    element_ = std::move(replay_.front());
    replay_.pop_front();
    return true;
  }

  void on_recorded_input() {
    if (skip_ > 0) {
      --skip_;  // recorded in place already
      return;
    }
    if (awaiting_barrier_ && element_.kind == ElementKind::kBarrier &&
        element_.checkpoint >= recording_) {
      awaiting_barrier_ = false;
      record_queued();
      return;
    }
    switch (element_.kind) {
      case ElementKind::kBarrierMark:
        if (element_.checkpoint >= recording_) recording_ = 0;
        return;
      case ElementKind::kEnd:
        recording_ = 0;  // no mark follows
        return;
      default:
        record(element_);
    }
  }

  // Records, in place, what is queued ahead of the mark (replayed elements
  // first); poll() then hands those on without recording them again.
  void record_queued() {
    for (const Element<T>& element : replay_) record(element);
    typename Channel<T>::Captured captured =
        channel_->visit_until_mark(recording_, [this](const Element<T>& e) { record(e); });
    if (captured.mark_found) {
      recording_ = 0;
    } else {
      skip_ = replay_.size() + captured.elements;
    }
  }

  void record(const Element<T>& element) {
    if constexpr (WireEncodable<T>) append_recorded_element(element, recorded_);
  }

  Channel<T>* channel_;
  Downstream<T>* target_;
  Element<T> element_;
  std::deque<Element<T>> replay_;
};

}  // namespace sluice
