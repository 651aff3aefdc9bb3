// The data plane: moves the elements of remote channels between task
// managers (runtime/network/remote_channels.h). One per task manager
// process; it outlives jobs and attempts.
//
// Connections. Each pair of task managers shares exactly one TCP connection,
// whichever direction its channels flow in: the task manager with the
// smaller id dials the other (connect_peers) and opens with a kDataHello
// frame naming itself and the id it wants to reach; the acceptor checks
// both, answers with its own hello, and from then on both sides send kData
// and kCredit frames (runtime/cluster/frame.h). Payloads, in the codecs'
// byte order (little-endian):
//
//   kDataHello  string from, string to        (Codec<std::string>: varint length + bytes)
//   kData       ChannelKey (5 x u32: job, attempt, edge, producer, consumer), element
//               (runtime/network/element_codec.h)
//   kCredit     ChannelKey, u32 count          the receiver freed `count` slots
//
// Credits. An inbound channel grants its capacity when registered and one
// credit per element its consumer pops; the sender sends one element per
// credit. So an inbound channel never holds more than its capacity (more is
// a protocol violation and costs the peer its connection), an outbound
// channel holds at most its capacity (its producer blocks), and each
// connection has at most one write batch being encoded.
//
// Channels may be registered before or after the connection to their peer
// is up; credits and data wait for both. Credits for an outbound channel
// not yet registered are remembered; data for a channel not registered is a
// protocol violation unless its attempt was removed (the peer may still be
// flushing an old attempt), in which case it is dropped.
//
// Failures. A peer that sends garbage (bad magic or version, an oversized
// frame, an unknown kind, a malformed element, more elements than credits)
// is disconnected with one warning line naming it and the reason. When an
// identified connection ends, for whatever reason, on_peer_lost(peer,
// reason) is called once and every channel then registered with that peer
// stops moving (the job attempt using it must be failed and its channels
// removed); channels registered afterwards use the next connection, which
// the dialing side opens on its next connect_peers(). A socket that never
// completes its hello is logged and dropped without on_peer_lost. The data
// plane keeps accepting and serving the other peers throughout.
//
// Threading. One accept thread; per connection one receiver thread
// (blocking reads; dispatches data to decoders and credits to outbound
// channels) and one sender thread (waits on the peer's TaskWakeup, which is
// the consumer wakeup of every outbound channel to that peer and is also
// notified by arriving credits and by popping consumers of inbound
// channels; wakes at least every 100 ms; encodes credits and data frames,
// several per socket write). on_peer_lost runs on a receiver or sender
// thread without locks held; it may call remove_attempt() and
// connect_peers(), but not stop(). Every other public method may be called
// from any thread.
//
// Lifecycle. The constructor binds and listens; connect_peers() dials;
// add_inbound()/add_outbound() as each attempt's plan is built;
// remove_attempt() after its tasks stopped and before its channels are
// freed; stop() (or the destructor) closes every socket and joins every
// thread, without calling on_peer_lost. Channels must not be used by their
// tasks after the data plane is destroyed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/network/remote_channels.h"

namespace sluice {

// Where a peer task manager's data plane listens.
struct DataPeer {
  std::string id;
  std::string host;
  uint16_t port = 0;
};

struct DataPlaneOptions {
  // How long connect_peers() waits for one peer's TCP connection and hello
  // reply before it gives up on it. Default 10 s.
  std::chrono::milliseconds connect_timeout{10'000};
  // How long an accepted socket may take to send its hello before it is
  // dropped. Default 10 s.
  std::chrono::milliseconds hello_timeout{10'000};
  // A sender writes once it has encoded this many bytes, or sooner when it
  // has nothing more to send. Default 256 KiB.
  size_t write_batch_bytes = 256u << 10;
};

// Counters since construction; for tests and metrics.
struct DataPlaneStats {
  uint64_t connections_opened = 0;  // identified connections, dialed or accepted
  uint64_t connections_lost = 0;    // identified connections that ended before stop()
  uint64_t sockets_rejected = 0;    // accepted sockets dropped before or at their hello
  uint64_t frames_sent = 0;
  uint64_t frames_received = 0;
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t writes = 0;          // socket writes (frames_sent / writes = frames per write)
  uint64_t dropped_frames = 0;  // frames for channels of removed attempts
};

class DataPlane final : public RemoteChannelRegistry {
 public:
  using PeerLostFn = std::function<void(const std::string& peer, const std::string& reason)>;

  // Listens on bind_host:port (0: an ephemeral port, see port()). Throws
  // ExternalError when it cannot.
  DataPlane(std::string self_id, std::string bind_host, uint16_t port, PeerLostFn on_peer_lost,
            DataPlaneOptions options = {});
  ~DataPlane() override;
  DataPlane(const DataPlane&) = delete;
  DataPlane& operator=(const DataPlane&) = delete;

  const std::string& id() const;
  // The port it listens on.
  uint16_t port() const;

  // Learns the peers' addresses and dials, one at a time, each peer with a
  // larger id that has no connection yet; peers with a smaller id dial us.
  // Entries naming this task manager are skipped. Throws ExternalError
  // naming every peer it could not reach (the others stay connected).
  void connect_peers(const std::vector<DataPeer>& peers);

  void add_outbound(const std::string& peer, const ChannelKey& key, ChannelBase* channel,
                    std::unique_ptr<ElementEncoder> encoder) override;
  void add_inbound(const std::string& peer, const ChannelKey& key, ChannelBase* channel,
                   std::unique_ptr<ElementDecoder> decoder) override;
  // Returns once no data plane thread uses the attempt's channels.
  void remove_attempt(uint32_t job, uint32_t attempt) override;

  // Live identified connections.
  size_t connection_count() const;
  bool connected_to(const std::string& peer) const;
  // Waits until connected to `peer`; false after `timeout`.
  bool wait_connected(const std::string& peer, std::chrono::milliseconds timeout) const;
  DataPlaneStats stats() const;

  // Closes every socket and joins every thread; idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice
