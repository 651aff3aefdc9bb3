// The data plane's insides (runtime/cluster/data_plane.h), shared by its
// three source files and included by them only:
//
//   data_plane.cc          construction, channel registration, queries, stop
//   data_plane_connect.cc  dialing, accepting, the hello handshake, and
//                          installing an identified connection
//   data_connection.cc     what runs on a connection: the receiver, the
//                          sender, credits, and how a connection ends
//
// Threading: mutex_ guards the peers, their channel maps and credit lists,
// the connection list, the stopping flags and every field marked so. A
// peer's sender (receiver) thread picks channels under mutex_ and then uses
// them under the peer's sender_use (receiver_use) only, which is how
// remove_attempt() waits until no thread uses a removed channel. Counters,
// credits and a connection's failed flag are atomics read without the lock.
// on_peer_lost runs from report(), with no lock held.
//
// Lifecycle: a Peer lives as long as the plane, since channels point at its
// sender_wakeup. A Connection lives from its dial or accept until its
// threads have finished and reap_locked() (or stop()) joins and frees it. A
// channel's Outbound or Inbound lives from add_outbound()/add_inbound() to
// remove_attempt().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio.hpp>

#include "runtime/cluster/data_plane.h"
#include "runtime/cluster/frame.h"
#include "runtime/core/logging.h"

namespace sluice {
namespace data_plane_detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using ErrorCode = boost::system::error_code;

// The longest a sender sleeps before it looks at its channels again; also
// the accept thread's pause after a failed accept.
inline constexpr std::chrono::milliseconds kIdleWait{100};

inline std::shared_ptr<spdlog::logger> logger() {
  return log::cluster();
}

// The payload of a kDataHello frame.
struct Hello {
  std::string from;
  std::string to;
};

const char* frame_kind_name(FrameKind kind);

// Wakes a thread blocked in a read or write on `socket` (it sees end of
// file or an error). Asio has no thread-safe way to interrupt blocking
// calls; shutdown(2) is, and the descriptor stays open until the owner
// closes it.
void interrupt(tcp::socket& socket);

}  // namespace data_plane_detail

struct DataPlane::Impl {
  using tcp = data_plane_detail::tcp;
  using ErrorCode = data_plane_detail::ErrorCode;

  struct Peer;

  struct Outbound {
    ChannelKey key;
    ChannelBase* channel = nullptr;
    std::unique_ptr<ElementEncoder> encoder;
    // Added by the receiver, spent by the sender.
    std::atomic<int64_t> credits{0};
    bool broken = false;  // its connection was lost; guarded by mutex_
  };

  struct Inbound final : PopListener {
    Impl* plane = nullptr;
    Peer* peer = nullptr;
    ChannelKey key;
    ChannelBase* channel = nullptr;
    std::unique_ptr<ElementDecoder> decoder;
    // Freed slots not yet granted; the consumer adds, the sender takes.
    std::atomic<uint32_t> credits_to_return{0};
    bool broken = false;  // guarded by mutex_

    void on_pop() override { plane->credit_freed(*this); }
  };

  struct Connection {
    boost::asio::io_context io;  // runs only the handshake's operations, on their caller's thread
    tcp::socket socket{io};
    std::string remote;    // address, for log lines
    Peer* peer = nullptr;  // once identified; set under mutex_
    std::atomic<bool> failed{false};
    std::atomic<int> threads_running{0};
    std::thread receiver;
    std::thread sender;
    size_t round_robin = 0;  // sender thread only
  };

  // Everything about one peer task manager; lives as long as the plane, so
  // channels may point at its wakeup.
  struct Peer {
    std::string id;
    std::string host;
    uint16_t port = 0;
    Connection* connection = nullptr;  // the live one, if any
    std::map<ChannelKey, std::unique_ptr<Outbound>> outbound;
    std::map<ChannelKey, std::unique_ptr<Inbound>> inbound;
    std::map<ChannelKey, int64_t> early_credits;
    std::vector<ChannelKey> credit_ready;  // inbound channels with credits to return
    // The consumer wakeup of every outbound channel to this peer; also
    // notified by credits in either direction.
    TaskWakeup sender_wakeup;
    // Held while the sender (receiver) uses channels outside mutex_, so
    // remove_attempt() can wait until it is done with them.
    std::mutex sender_use;
    std::mutex receiver_use;
  };

  struct Counters {
    std::atomic<uint64_t> opened{0};
    std::atomic<uint64_t> lost{0};
    std::atomic<uint64_t> rejected{0};
    std::atomic<uint64_t> frames_sent{0};
    std::atomic<uint64_t> frames_received{0};
    std::atomic<uint64_t> bytes_sent{0};
    std::atomic<uint64_t> bytes_received{0};
    std::atomic<uint64_t> writes{0};
    std::atomic<uint64_t> dropped{0};
  };

  // A connection that ended while it was its peer's live one.
  struct Loss {
    Peer* peer = nullptr;
    std::string remote;
  };

  // ---- data_plane.cc: construction, registration, queries, stop ----------

  Impl(std::string self_id, const std::string& bind_host, uint16_t port, PeerLostFn on_peer_lost,
       DataPlaneOptions options);
  ~Impl() { stop(); }

  void add_outbound(const std::string& peer_id, const ChannelKey& key, ChannelBase* channel,
                    std::unique_ptr<ElementEncoder> encoder);
  void add_inbound(const std::string& peer_id, const ChannelKey& key, ChannelBase* channel,
                   std::unique_ptr<ElementDecoder> decoder);
  void remove_attempt(uint32_t job, uint32_t attempt);

  Peer& peer_locked(const std::string& id);
  size_t connection_count() const;
  bool connected_locked(const std::string& id) const;
  void stop();

  // ---- data_plane_connect.cc: dialing, accepting, handshake ---------------

  void connect_peers(const std::vector<DataPeer>& peers);
  void dial_peer(const DataPeer& p);
  void accept_loop();
  // Receiver thread of an accepted socket: handshake, then frames.
  void accepted_main(Connection& c);
  void reject(Connection& c, const std::string& reason);
  // Makes `c` the connection to `peer_id`, ending an older one, sends
  // `reply` (the acceptor's hello) and starts its threads: the sender, and
  // the receiver unless the caller is it. False when stopping.
  bool install(Connection& c, const std::string& peer_id, const std::string* reply);
  // Joins and frees connections whose threads have finished.
  void reap_locked();
  // Runs one asynchronous operation on the connection's own io_context for
  // at most `timeout`; cancels it after that.
  template <class Start>
  ErrorCode run_with_timeout(Connection& c, std::chrono::milliseconds timeout, Start start);
  data_plane_detail::Hello read_hello(Connection& c, std::chrono::milliseconds timeout);

  // ---- data_connection.cc: receiving, sending, failing -------------------

  // Consumer thread of an inbound channel, after each pop.
  void credit_freed(Inbound& in);

  void receiver_main(Connection& c);
  void receive_loop(Connection& c);
  bool attempt_removed_locked(const ChannelKey& key) const;
  void on_data(Peer& peer, std::string_view payload);
  void on_credit(Peer& peer, std::string_view payload);

  void sender_main(Connection& c);
  // Appends due credits, then data frames round robin over the outbound
  // channels that have credit, until write_batch_bytes or nothing is left.
  void fill(Connection& c, Peer& peer, std::string& out, std::vector<Outbound*>& ready,
            std::vector<ChannelKey>& credit_keys);
  ElementEncoder::Encoded append_data_frame(Outbound& o, std::string& out, bool barrier_only);

  // Ends `c` once: wakes its threads and, when it was its peer's live
  // connection, stops the peer's channels. The caller reports the loss
  // after unlocking.
  Loss fail_locked(Connection& c);
  // Called by the connection's own threads (so `c` stays alive).
  void fail(Connection& c, const std::string& reason);
  // Logs a loss and tells on_peer_lost; without locks.
  void report(const Loss& loss, const std::string& reason);
  // The peer's channels stop for good: their elements in flight are lost.
  void detach_locked(Peer& peer);

  const std::string self_id_;
  const DataPlaneOptions options_;
  const PeerLostFn on_peer_lost_;

  boost::asio::io_context acceptor_io_;
  tcp::acceptor acceptor_{acceptor_io_};
  uint16_t port_ = 0;
  std::thread accept_thread_;

  mutable std::mutex mutex_;
  mutable std::condition_variable connected_cv_;
  std::condition_variable stop_cv_;
  std::map<std::string, std::unique_ptr<Peer>> peers_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::set<std::pair<uint32_t, uint32_t>> removed_attempts_;
  bool stopping_ = false;
  bool stopped_ = false;
  std::atomic<bool> stopping_flag_{false};  // stopping_, readable without the lock

  std::mutex connect_mutex_;  // one connect_peers() at a time
  std::mutex stop_mutex_;
  Counters counters_;
};

}  // namespace sluice
