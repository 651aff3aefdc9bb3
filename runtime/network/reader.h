// The consuming end of a channel: pops one element at a time and hands
// batches to the task's head operator; the task handles the rest
// (watermarks, idleness, end of input).
//
// Threading: used only on the consuming task's thread.
#pragma once

#include "runtime/api/output.h"
#include "runtime/network/channel.h"

namespace sluice {

struct Polled {
  bool got = false;
  ElementKind kind = ElementKind::kBatch;
  Timestamp watermark = kMinTimestamp;
  int64_t checkpoint = 0;
};

class ChannelReaderBase {
 public:
  virtual ~ChannelReaderBase() = default;
  // Takes one element if there is one; a batch goes to the target at once.
  virtual Polled poll() = 0;
};

template <class T>
class ChannelReader final : public ChannelReaderBase {
 public:
  ChannelReader(Channel<T>* channel, Downstream<T>* target) : channel_(channel), target_(target) {}

  Polled poll() override {
    if (!channel_->try_pop(element_)) return Polled{};
    if (element_.kind == ElementKind::kBatch) {
      target_->push_batch(element_.batch);
      element_.batch.clear();
    }
    return Polled{true, element_.kind, element_.watermark, element_.checkpoint};
  }

 private:
  Channel<T>* channel_;
  Downstream<T>* target_;
  Element<T> element_;
};

}  // namespace sluice
