// Remote channels: how the execution plan hands a channel whose other end
// runs in another task manager to the data plane (runtime/cluster/
// data_plane.h), without knowing about sockets.
//
// A remote edge keeps a local Channel<T> at each end. On the producer's
// side the task writes into an outbound channel as usual and the data plane
// drains it; on the consumer's side the data plane fills an inbound channel
// that the task reads as usual. Credits keep both bounded: the receiver
// grants one credit per free slot of its inbound channel and the sender
// sends only against credit, so no push on the receiving side ever blocks.
//
// Threading: encoders and decoders run on the data plane's threads; the
// registry is called by the plan builder before the tasks start and by the
// task manager when an attempt ends.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "runtime/network/channel.h"

namespace sluice {

// Names one channel of one job attempt on every task manager alike.
struct ChannelKey {
  uint32_t job = 0;      // the job's number on this cluster
  uint32_t attempt = 0;  // restarts make new channels
  uint32_t edge = 0;     // index of the edge in the job graph
  uint32_t producer = 0;
  uint32_t consumer = 0;

  friend bool operator==(const ChannelKey&, const ChannelKey&) = default;
  friend auto operator<=>(const ChannelKey&, const ChannelKey&) = default;
};

// "job/attempt/edge/producer->consumer", for log lines and errors.
inline std::string channel_key_name(const ChannelKey& key) {
  return fmt::format("{}/{}/{}/{}->{}", key.job, key.attempt, key.edge, key.producer, key.consumer);
}

// Takes elements out of an outbound channel and encodes them
// (runtime/network/element_codec.h has the wire form).
class ElementEncoder {
 public:
  virtual ~ElementEncoder() = default;
  enum class Encoded { kNothing, kElement, kBarrier };
  // Appends the encoding of one element to `out`, or nothing when the
  // channel is empty (or, with `barrier_only`, has no barrier next). It
  // pops one element, or sends the next part of a batch too large for one
  // frame: each call that appends makes one element on the receiving side,
  // and spends one credit unless it returns kBarrier (barriers travel
  // without credit, so that they overtake a full receiver).
  virtual Encoded encode_next(std::string& out, bool barrier_only) = 0;
  // A barrier is the next element to go.
  virtual bool barrier_next() = 0;
};

// Decodes elements into an inbound channel.
class ElementDecoder {
 public:
  virtual ~ElementDecoder() = default;
  // Decodes one element and pushes it without waiting (the sender held a
  // credit for it). Throws InputError on malformed bytes.
  virtual void decode_into_channel(std::string_view bytes) = 0;
};

class RemoteChannelRegistry {
 public:
  virtual ~RemoteChannelRegistry() = default;
  // The producer runs here and the consumer on task manager `peer`. Takes
  // over the channel's consumer wakeup (set_consumer): do not set it again.
  virtual void add_outbound(const std::string& peer, const ChannelKey& key, ChannelBase* channel,
                            std::unique_ptr<ElementEncoder> encoder) = 0;
  // The consumer runs here and the producer on `peer`; grants the
  // channel's capacity as credits. Installs a PopListener on the channel,
  // which must stay in place while the consumer pops.
  virtual void add_inbound(const std::string& peer, const ChannelKey& key, ChannelBase* channel,
                           std::unique_ptr<ElementDecoder> decoder) = 0;
  // Forgets every channel of one attempt (before its channels are freed,
  // after its tasks have stopped using them). Data that peers still send
  // for the attempt is dropped.
  virtual void remove_attempt(uint32_t job, uint32_t attempt) = 0;
};

}  // namespace sluice
