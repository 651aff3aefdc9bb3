// Network writers: the end of a chain that feeds the channels of one
// outgoing edge. Each writer implements the edge's partitioning: forward,
// rebalance (round robin per record), broadcast (every record to every
// consumer), or hash (key -> key group -> subtask, design section 6). Records
// collect in one pending batch per consumer; full batches go out at once and
// the task flushes the rest when its input runs dry or a flush delay passed
// (runtime/task/task.h).
//
// Threading: used only on the producing task's thread.
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "runtime/core/codec.h"
#include "runtime/core/hash.h"
#include "runtime/core/key_hasher.h"
#include "runtime/metrics/probe.h"
#include "runtime/network/channel.h"
#include "runtime/network/element_codec.h"
#include "runtime/operator/output.h"
#include "state/key_groups.h"

namespace sluice {

// Whether a producer sends watermarks for now (Flink's StreamStatus): an
// idle one is left out of its consumers' watermarks until it is active.
enum class StreamStatus { kActive, kIdle };

class NetworkWriterBase {
 public:
  virtual ~NetworkWriterBase() = default;
  virtual DownstreamBase* downstream() = 0;
  // Sends every pending batch.
  virtual void flush() = 0;
  // Sends the pending batches of the channels that have room: a task whose
  // output is full elsewhere does so before it waits, so that those
  // consumers do not starve meanwhile.
  virtual void flush_where_room() = 0;
  // Every channel has room for the output of the task's next input.
  virtual bool has_room() const = 0;
  // Tells every consumer whether this producer is idle (sends no
  // watermarks for now) or active again.
  virtual void send_stream_status(StreamStatus status) = 0;
  // Flushes and tells every consumer that this producer has ended.
  virtual void send_end() = 0;
  // Flushes and tells every consumer that no records or watermarks follow;
  // barriers still do, until send_end().
  virtual void send_end_of_data() = 0;
  // Flushes and sends checkpoint `id`'s barrier to every consumer.
  virtual void send_barrier(int64_t id, CheckpointKind kind) = 0;
  // Unaligned: flushes, then puts the barrier ahead of everything queued:
  // with its mark behind it on a local channel (Channel::push_priority),
  // recording the overtaken elements in a remote edge's sending channel
  // (Channel::push_priority_recording).
  virtual void send_priority_barrier(int64_t id, CheckpointKind kind) = 0;
  // Counts the records the task hands this writer into `counter` (once
  // per record, whatever number of channels it goes to), a batch at a time.
  void count_records_in(Counter* counter) { records_out_ = counter; }

 protected:
  Counter* records_out_ = nullptr;
};

template <class T>
class ChannelWriter : public NetworkWriterBase, public Downstream<T> {
 public:
  explicit ChannelWriter(std::vector<Channel<T>*> channels)
      : channels_(std::move(channels)),
        pending_(channels_.size()),
        batch_limit_(channels_.size(), kMaxBatchRecords) {}

  DownstreamBase* downstream() override { return this; }

  void push_batch(Batch<T>& batch) final {
    if (records_out_ != nullptr) records_out_->add(batch.size());
    route(batch);
  }

  void flush() override {
    for (size_t i = 0; i < channels_.size(); ++i) send_pending(i);
  }
  void flush_where_room() override {
    for (size_t i = 0; i < channels_.size(); ++i) {
      if (channels_[i]->has_room()) send_pending(i);
    }
  }
  bool has_room() const override {
    for (const Channel<T>* channel : channels_) {
      if (!channel->has_room()) return false;
    }
    return true;
  }
  void push_watermark(Timestamp watermark) override {
    flush();
    broadcast_control(ElementKind::kWatermark, watermark);
  }
  void send_stream_status(StreamStatus status) override {
    flush();
    broadcast_control(status == StreamStatus::kIdle ? ElementKind::kIdle : ElementKind::kActive, 0);
  }
  void send_end() override {
    flush();
    broadcast_control(ElementKind::kEnd, 0);
  }
  void send_end_of_data() override {
    flush();
    broadcast_control(ElementKind::kEndOfData, 0);
  }
  void send_barrier(int64_t id, CheckpointKind kind) override {
    flush();
    broadcast_control(ElementKind::kBarrier, 0, id, kind);
  }
  void send_priority_barrier(int64_t id, CheckpointKind kind) override {
    flush();
    for (Channel<T>* channel : channels_) {
      Element<T> barrier;
      barrier.kind = ElementKind::kBarrier;
      barrier.checkpoint = id;
      barrier.checkpoint_kind = kind;
      if (!channel->records_overtaken()) {
        channel->push_priority(std::move(barrier));
      } else if constexpr (WireEncodable<T>) {
        channel->push_priority_recording(
            std::move(barrier),
            [](const Element<T>& e, std::string& out) { append_recorded_element(e, out); });
      } else {
        throw no_wire_codec_error<T>();  // a remote edge has a codec
      }
    }
  }

 protected:
  // Sends a batch's records to their channels.
  virtual void route(Batch<T>& batch) = 0;
  void append(size_t target, Record<T>&& record) {
    Batch<T>& pending = pending_[target];
    pending.push_back(std::move(record));
    if (pending.size() >= batch_limit_[target]) send_pending(target);
  }
  void send_pending(size_t target) {
    Batch<T>& pending = pending_[target];
    if (pending.empty()) return;
    send_batch(target, pending);
  }
  // Sends `batch` to one channel and leaves it empty, with room for a
  // whole batch (a buffer the consumer gave back, or a new one).
  void send_batch(size_t target, Batch<T>& batch) {
    Element<T> element;
    element.kind = ElementKind::kBatch;
    element.batch.swap(batch);
    channels_[target]->push(std::move(element), &batch);
    if (batch.capacity() < kMaxBatchRecords) batch.reserve(kMaxBatchRecords);
    batch_limit_[target] = batch_limit(channels_[target]->record_budget());
  }
  size_t channel_count() const { return channels_.size(); }

 private:
  void broadcast_control(ElementKind kind, Timestamp watermark, int64_t checkpoint = 0,
                         CheckpointKind checkpoint_kind = CheckpointKind::kCheckpoint) {
    for (Channel<T>* channel : channels_) {
      Element<T> element;
      element.kind = kind;
      element.watermark = watermark;
      element.checkpoint = checkpoint;
      element.checkpoint_kind = checkpoint_kind;
      channel->push(std::move(element));
    }
  }

  // Buffer debloating: batches of at most a quarter of a channel's record
  // budget (within 16..kMaxBatchRecords), so that a debloated channel holds
  // several and a slow consumer gets small ones.
  static size_t batch_limit(size_t budget) {
    if (budget == 0) return kMaxBatchRecords;
    return std::clamp<size_t>(budget / 4, 16, kMaxBatchRecords);
  }

  std::vector<Channel<T>*> channels_;
  std::vector<Batch<T>> pending_;
  std::vector<size_t> batch_limit_;  // per channel, from its record budget
};

// One consumer; whole batches are passed on without touching records.
template <class T>
class ForwardWriter final : public ChannelWriter<T> {
 public:
  using ChannelWriter<T>::ChannelWriter;
  void route(Batch<T>& batch) override {
    this->send_pending(0);
    this->send_batch(0, batch);
  }
};

template <class T>
class RebalanceWriter final : public ChannelWriter<T> {
 public:
  RebalanceWriter(std::vector<Channel<T>*> channels, size_t start)
      : ChannelWriter<T>(std::move(channels)), next_(start % this->channel_count()) {}
  void route(Batch<T>& batch) override {
    size_t n = this->channel_count();
    for (Record<T>& r : batch) {
      this->append(next_, std::move(r));
      next_ = next_ + 1 == n ? 0 : next_ + 1;
    }
  }

 private:
  size_t next_;
};

template <class T>
class BroadcastWriter final : public ChannelWriter<T> {
 public:
  using ChannelWriter<T>::ChannelWriter;
  void route(Batch<T>& batch) override {
    for (size_t i = 0; i < this->channel_count(); ++i) {
      for (const Record<T>& r : batch) this->append(i, Record<T>(r));
    }
  }
};

template <class T, class K, class KeyFn>
class HashWriter final : public ChannelWriter<T> {
 public:
  HashWriter(std::vector<Channel<T>*> channels, KeyFn key_of, int max_parallelism,
             KeyHashing hashing)
      : ChannelWriter<T>(std::move(channels)),
        key_of_(std::move(key_of)),
        max_parallelism_(max_parallelism),
        hasher_(hashing) {}
  void route(Batch<T>& batch) override {
    int parallelism = static_cast<int>(this->channel_count());
    for (Record<T>& r : batch) {
      uint64_t hash = hasher_.hash(key_of_(r.value));
      KeyGroup group = key_group_for_hash(hasher_.group_hash(hash), max_parallelism_);
      this->append(static_cast<size_t>(subtask_for_key_group(group, max_parallelism_, parallelism)),
                   std::move(r));
    }
  }

 private:
  KeyFn key_of_;
  int max_parallelism_;
  KeyHasher<K> hasher_;
};

}  // namespace sluice
