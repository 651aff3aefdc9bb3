// StreamTypeOps for records of type T: the typed channel, reader, fan-out,
// writer and wire encoder/decoder makers the execution plan needs. One
// shared instance per type.
#pragma once

#include <memory>

#include "runtime/graph/job_graph.h"
#include "runtime/network/element_codec.h"

namespace sluice {

template <class T>
class TypedStreamOps final : public StreamTypeOps {
 public:
  std::unique_ptr<ChannelBase> make_channel(size_t capacity) const override {
    return std::make_unique<Channel<T>>(capacity);
  }
  std::unique_ptr<ChannelReaderBase> make_reader(ChannelBase* channel,
                                                 DownstreamBase* target) const override {
    return std::make_unique<ChannelReader<T>>(static_cast<Channel<T>*>(channel),
                                              static_cast<Downstream<T>*>(target));
  }
  std::unique_ptr<DownstreamBase> make_fan_out(
      const std::vector<DownstreamBase*>& targets) const override {
    std::vector<Downstream<T>*> typed;
    for (DownstreamBase* t : targets) typed.push_back(static_cast<Downstream<T>*>(t));
    return std::make_unique<FanOut<T>>(std::move(typed));
  }
  std::unique_ptr<DownstreamBase> make_discard() const override {
    return std::make_unique<Discard<T>>();
  }
  std::unique_ptr<NetworkWriterBase> make_writer(Partitioning partitioning,
                                                 const std::vector<ChannelBase*>& channels,
                                                 int producer_subtask) const override {
    std::vector<Channel<T>*> typed = typed_channels(channels);
    switch (partitioning) {
      case Partitioning::kBroadcast:
        return std::make_unique<BroadcastWriter<T>>(std::move(typed));
      case Partitioning::kRebalance:
        return std::make_unique<RebalanceWriter<T>>(std::move(typed),
                                                    static_cast<size_t>(producer_subtask));
      default:
        return std::make_unique<ForwardWriter<T>>(std::move(typed));
    }
  }

  std::unique_ptr<ElementEncoder> make_encoder(ChannelBase* channel) const override {
    if constexpr (WireEncodable<T>) {
      return std::make_unique<ChannelElementEncoder<T>>(static_cast<Channel<T>*>(channel));
    } else {
      throw no_wire_codec_error<T>();
    }
  }
  std::unique_ptr<ElementDecoder> make_decoder(ChannelBase* channel) const override {
    if constexpr (WireEncodable<T>) {
      return std::make_unique<ChannelElementDecoder<T>>(static_cast<Channel<T>*>(channel));
    } else {
      throw no_wire_codec_error<T>();
    }
  }

  static std::vector<Channel<T>*> typed_channels(const std::vector<ChannelBase*>& channels) {
    std::vector<Channel<T>*> typed;
    typed.reserve(channels.size());
    for (ChannelBase* c : channels) typed.push_back(static_cast<Channel<T>*>(c));
    return typed;
  }

  static std::shared_ptr<const StreamTypeOps> instance() {
    static const std::shared_ptr<const StreamTypeOps> ops = std::make_shared<TypedStreamOps<T>>();
    return ops;
  }
};

}  // namespace sluice
