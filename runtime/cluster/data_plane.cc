#include "runtime/cluster/data_plane.h"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <boost/asio.hpp>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "runtime/cluster/frame.h"
#include "runtime/core/codec.h"
#include "runtime/core/errors.h"
#include "runtime/core/logging.h"

namespace sluice {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using ErrorCode = boost::system::error_code;

static_assert(std::endian::native == std::endian::little,
              "the data plane's payloads are little-endian (the codecs' byte order)");

constexpr size_t kChannelKeyBytes = 5 * sizeof(uint32_t);
constexpr uint32_t kMaxHelloBytes = 4096;
// Credits remembered for outbound channels not registered yet, per peer.
constexpr size_t kMaxEarlyCredits = 1u << 16;
// The longest a sender sleeps before it looks at its channels again.
constexpr std::chrono::milliseconds kIdleWait{100};
constexpr size_t kReadBufferBytes = 256u << 10;
// A receive buffer grown for a large frame shrinks back above this size.
constexpr size_t kKeepReadBufferBytes = 8u << 20;

std::shared_ptr<spdlog::logger> logger() { return log::cluster(); }

void put_key(std::string& out, const ChannelKey& key) {
  ByteWriter w(out);
  for (uint32_t v : {key.job, key.attempt, key.edge, key.producer, key.consumer}) {
    Codec<uint32_t>::encode(v, w);
  }
}

ChannelKey read_key(ByteReader& r) {
  ChannelKey key;
  key.job = Codec<uint32_t>::decode(r);
  key.attempt = Codec<uint32_t>::decode(r);
  key.edge = Codec<uint32_t>::decode(r);
  key.producer = Codec<uint32_t>::decode(r);
  key.consumer = Codec<uint32_t>::decode(r);
  return key;
}

void append_credit_frame(std::string& out, const ChannelKey& key, uint32_t count) {
  append_frame_header(out, FrameKind::kCredit, kChannelKeyBytes + sizeof count);
  put_key(out, key);
  ByteWriter w(out);
  Codec<uint32_t>::encode(count, w);
}

struct Hello {
  std::string from;
  std::string to;
};

std::string hello_frame(const std::string& from, const std::string& to) {
  std::string payload;
  ByteWriter w(payload);
  Codec<std::string>::encode(from, w);
  Codec<std::string>::encode(to, w);
  std::string frame;
  append_frame_header(frame, FrameKind::kDataHello, static_cast<uint32_t>(payload.size()));
  return frame + payload;
}

Hello parse_hello(std::string_view payload) {
  ByteReader r(payload);
  Hello hello;
  hello.from = Codec<std::string>::decode(r);
  hello.to = Codec<std::string>::decode(r);
  if (!r.at_end()) throw InputError("hello: trailing bytes");
  if (hello.from.empty()) throw InputError("hello: empty task manager id");
  return hello;
}

const char* frame_kind_name(FrameKind kind) {
  switch (kind) {
    case FrameKind::kControl:
      return "control";
    case FrameKind::kDataHello:
      return "hello";
    case FrameKind::kData:
      return "data";
    case FrameKind::kCredit:
      return "credit";
  }
  return "unknown";
}

void configure(tcp::socket& socket) {
  ErrorCode ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  socket.set_option(asio::socket_base::keep_alive(true), ignored);
}

// Wakes a thread blocked in a read or write on `socket` (it sees end of
// file or an error). Asio has no thread-safe way to interrupt blocking
// calls; shutdown(2) is, and the descriptor stays open until the owner
// closes it.
void interrupt(tcp::socket& socket) {
  ::shutdown(socket.native_handle(), SHUT_RDWR);
}

std::string remote_name(const tcp::socket& socket) {
  ErrorCode ec;
  tcp::endpoint ep = socket.remote_endpoint(ec);
  if (ec) return "an unknown address";
  return fmt::format("{}:{}", ep.address().to_string(), ep.port());
}

// Reads frames through one reused buffer: a single read_some usually
// brings in many frames.
class FrameReader {
 public:
  FrameReader(tcp::socket& socket, std::atomic<uint64_t>& bytes_read)
      : socket_(socket), bytes_read_(bytes_read), capacity_(kReadBufferBytes) {
    buffer_ = std::make_unique_for_overwrite<char[]>(capacity_);
  }

  // Returns `n` buffered bytes, reading as needed; throws ExternalError
  // when the connection ends.
  const char* peek(size_t n) {
    if (end_ - begin_ >= n) return buffer_.get() + begin_;
    if (capacity_ - begin_ < n) make_room(n);
    while (end_ - begin_ < n) {
      ErrorCode ec;
      size_t got = socket_.read_some(asio::buffer(buffer_.get() + end_, capacity_ - end_), ec);
      if (ec) {
        throw ExternalError(ec == asio::error::eof ? std::string("connection closed by the peer")
                                                   : fmt::format("read failed: {}", ec.message()));
      }
      end_ += got;
      bytes_read_.fetch_add(got, std::memory_order_relaxed);
    }
    return buffer_.get() + begin_;
  }

  void consume(size_t n) {
    begin_ += n;
    if (begin_ != end_) return;
    begin_ = end_ = 0;
    if (capacity_ > kKeepReadBufferBytes) {
      capacity_ = kReadBufferBytes;
      buffer_ = std::make_unique_for_overwrite<char[]>(capacity_);
    }
  }

 private:
  void make_room(size_t n) {
    size_t held = end_ - begin_;
    if (capacity_ < n) {
      size_t capacity = std::max(n, kReadBufferBytes);
      auto bigger = std::make_unique_for_overwrite<char[]>(capacity);
      std::memcpy(bigger.get(), buffer_.get() + begin_, held);
      buffer_ = std::move(bigger);
      capacity_ = capacity;
    } else {
      std::memmove(buffer_.get(), buffer_.get() + begin_, held);
    }
    begin_ = 0;
    end_ = held;
  }

  tcp::socket& socket_;
  std::atomic<uint64_t>& bytes_read_;
  std::unique_ptr<char[]> buffer_;
  size_t capacity_;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace

struct DataPlane::Impl {
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
    asio::io_context io;  // runs only the handshake's operations, on their caller's thread
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

  Impl(std::string self_id, const std::string& bind_host, uint16_t port, PeerLostFn on_peer_lost,
       DataPlaneOptions options)
      : self_id_(std::move(self_id)), options_(options), on_peer_lost_(std::move(on_peer_lost)) {
    try {
      tcp::resolver resolver(acceptor_io_);
      tcp::endpoint endpoint =
          resolver.resolve(bind_host, std::to_string(port), tcp::resolver::passive)
              .begin()
              ->endpoint();
      acceptor_.open(endpoint.protocol());
      acceptor_.set_option(asio::socket_base::reuse_address(true));
      acceptor_.bind(endpoint);
      acceptor_.listen();
      port_ = acceptor_.local_endpoint().port();
    } catch (const boost::system::system_error& e) {
      throw ExternalError(fmt::format("data plane {}: cannot listen on {}:{}: {}", self_id_,
                                      bind_host, port, e.code().message()));
    }
    accept_thread_ = std::thread([this] { accept_loop(); });
  }

  ~Impl() { stop(); }

  // ---- registration -------------------------------------------------------

  void add_outbound(const std::string& peer_id, const ChannelKey& key, ChannelBase* channel,
                    std::unique_ptr<ElementEncoder> encoder) {
    if (channel == nullptr || !encoder)
      throw UsageError("data plane: outbound channel without encoder");
    Peer* peer;
    {
      std::lock_guard lock(mutex_);
      peer = &peer_locked(peer_id);
      if (peer->outbound.count(key) != 0) {
        throw UsageError(fmt::format("data plane {}: outbound channel {} registered twice",
                                     self_id_, channel_key_name(key)));
      }
      auto out = std::make_unique<Outbound>();
      out->key = key;
      out->channel = channel;
      out->encoder = std::move(encoder);
      if (auto early = peer->early_credits.find(key); early != peer->early_credits.end()) {
        out->credits = early->second;
        peer->early_credits.erase(early);
      }
      channel->set_consumer(&peer->sender_wakeup);
      peer->outbound.emplace(key, std::move(out));
    }
    peer->sender_wakeup.notify();
  }

  void add_inbound(const std::string& peer_id, const ChannelKey& key, ChannelBase* channel,
                   std::unique_ptr<ElementDecoder> decoder) {
    if (channel == nullptr || !decoder)
      throw UsageError("data plane: inbound channel without decoder");
    Peer* peer;
    {
      std::lock_guard lock(mutex_);
      peer = &peer_locked(peer_id);
      if (peer->inbound.count(key) != 0) {
        throw UsageError(fmt::format("data plane {}: inbound channel {} registered twice", self_id_,
                                     channel_key_name(key)));
      }
      auto in = std::make_unique<Inbound>();
      in->plane = this;
      in->peer = peer;
      in->key = key;
      in->channel = channel;
      in->decoder = std::move(decoder);
      in->credits_to_return = static_cast<uint32_t>(channel->capacity());
      channel->set_pop_listener(in.get());
      peer->credit_ready.push_back(key);
      peer->inbound.emplace(key, std::move(in));
    }
    peer->sender_wakeup.notify();
  }

  void remove_attempt(uint32_t job, uint32_t attempt) {
    auto of_attempt = [job, attempt](const ChannelKey& key) {
      return key.job == job && key.attempt == attempt;
    };
    std::vector<std::unique_ptr<Outbound>> outbound;
    std::vector<std::unique_ptr<Inbound>> inbound;
    std::vector<Peer*> touched;
    {
      std::lock_guard lock(mutex_);
      removed_attempts_.insert({job, attempt});
      for (auto& [id, peer] : peers_) {
        size_t before = outbound.size() + inbound.size();
        for (auto it = peer->outbound.begin(); it != peer->outbound.end();) {
          if (!of_attempt(it->first)) {
            ++it;
            continue;
          }
          outbound.push_back(std::move(it->second));
          it = peer->outbound.erase(it);
        }
        for (auto it = peer->inbound.begin(); it != peer->inbound.end();) {
          if (!of_attempt(it->first)) {
            ++it;
            continue;
          }
          inbound.push_back(std::move(it->second));
          it = peer->inbound.erase(it);
        }
        std::erase_if(peer->early_credits, [&](const auto& e) { return of_attempt(e.first); });
        std::erase_if(peer->credit_ready, of_attempt);
        if (outbound.size() + inbound.size() != before) touched.push_back(peer.get());
      }
    }
    // The sender and receiver pick channels under mutex_ and use them under
    // these; once we had each, none of the removed ones is in use.
    for (Peer* peer : touched) {
      { std::lock_guard use(peer->sender_use); }
      { std::lock_guard use(peer->receiver_use); }
    }
  }

  // Consumer thread of an inbound channel, after each pop.
  void credit_freed(Inbound& in) {
    if (in.credits_to_return.fetch_add(1) != 0) return;  // already queued
    {
      std::lock_guard lock(mutex_);
      in.peer->credit_ready.push_back(in.key);
    }
    in.peer->sender_wakeup.notify();
  }

  // ---- connections --------------------------------------------------------

  void connect_peers(const std::vector<DataPeer>& peers) {
    std::lock_guard serial(connect_mutex_);
    std::string failures;
    for (const DataPeer& p : peers) {
      if (p.id == self_id_) continue;
      bool dial;
      {
        std::lock_guard lock(mutex_);
        if (stopping_) throw ExternalError(fmt::format("data plane {} is stopped", self_id_));
        Peer& peer = peer_locked(p.id);
        peer.host = p.host;
        peer.port = p.port;
        dial = self_id_ < p.id && peer.connection == nullptr;
      }
      if (!dial) continue;
      try {
        dial_peer(p);
      } catch (const std::exception& e) {
        if (!failures.empty()) failures += "; ";
        failures += fmt::format("peer {} at {}:{}: {}", p.id, p.host, p.port, e.what());
      }
    }
    if (!failures.empty()) {
      throw ExternalError(fmt::format("data plane {}: cannot connect to {}", self_id_, failures));
    }
  }

  void dial_peer(const DataPeer& p) {
    Connection* c;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) throw ExternalError(fmt::format("data plane {} is stopped", self_id_));
      reap_locked();
      connections_.push_back(std::make_unique<Connection>());
      c = connections_.back().get();
      c->remote = fmt::format("{}:{}", p.host, p.port);
    }
    try {
      ErrorCode ec;
      tcp::resolver resolver(c->io);
      auto endpoints = resolver.resolve(p.host, std::to_string(p.port), ec);
      if (ec) throw ExternalError(fmt::format("cannot resolve {}: {}", p.host, ec.message()));
      ec = run_with_timeout(*c, options_.connect_timeout, [&](auto done) {
        asio::async_connect(c->socket, endpoints,
                            [done](const ErrorCode& e, const tcp::endpoint&) { done(e); });
      });
      if (ec) throw ExternalError(fmt::format("connect failed: {}", ec.message()));
      if (c->failed) throw ExternalError(fmt::format("data plane {} is stopped", self_id_));
      configure(c->socket);
      std::string hello = hello_frame(self_id_, p.id);
      asio::write(c->socket, asio::buffer(hello), ec);
      if (ec) throw ExternalError(fmt::format("sending the hello failed: {}", ec.message()));
      Hello reply = read_hello(*c, options_.connect_timeout);
      if (reply.from != p.id || reply.to != self_id_) {
        throw ExternalError(fmt::format("the data plane there is {}, not {}", reply.from, p.id));
      }
      if (!install(*c, p.id, /*reply=*/nullptr)) {
        throw ExternalError(fmt::format("data plane {} is stopped", self_id_));
      }
    } catch (...) {
      std::lock_guard lock(mutex_);
      c->failed = true;  // no threads: reap_locked() frees it
      interrupt(c->socket);
      reap_locked();
      throw;
    }
  }

  void accept_loop() {
    while (true) {
      auto c = std::make_unique<Connection>();
      ErrorCode ec;
      acceptor_.accept(c->socket, ec);
      if (stopping_flag_) return;
      if (ec) {
        logger()->warn("data plane {}: accept failed: {}", self_id_, ec.message());
        std::unique_lock lock(mutex_);
        stop_cv_.wait_for(lock, kIdleWait, [this] { return stopping_; });
        continue;
      }
      configure(c->socket);
      c->remote = remote_name(c->socket);
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      reap_locked();
      Connection* raw = c.get();
      connections_.push_back(std::move(c));
      raw->threads_running = 1;
      raw->receiver = std::thread([this, raw] { accepted_main(*raw); });
    }
  }

  // Receiver thread of an accepted socket: handshake, then frames.
  void accepted_main(Connection& c) {
    std::string peer_id;
    try {
      Hello hello = read_hello(c, options_.hello_timeout);
      if (hello.to != self_id_) {
        throw InputError(fmt::format("{} wanted task manager {}", hello.from, hello.to));
      }
      if (!(hello.from < self_id_)) {
        throw InputError(fmt::format("{} has the larger id, so {} dials it", hello.from, self_id_));
      }
      peer_id = hello.from;
    } catch (const std::exception& e) {
      reject(c, e.what());
      c.threads_running.fetch_sub(1);
      return;
    }
    std::string reply = hello_frame(self_id_, peer_id);
    if (install(c, peer_id, &reply)) {
      receive_loop(c);
    } else {
      c.failed = true;
      interrupt(c.socket);
    }
    c.threads_running.fetch_sub(1);
  }

  void reject(Connection& c, const std::string& reason) {
    c.failed = true;
    interrupt(c.socket);
    if (stopping_flag_) return;
    counters_.rejected.fetch_add(1);
    logger()->warn("data plane {}: dropped the connection from {} before its hello: {}", self_id_,
                   c.remote, reason);
  }

  // Makes `c` the connection to `peer_id`, ending an older one, sends
  // `reply` (the acceptor's hello) and starts its threads: the sender, and
  // the receiver unless the caller is it. False when stopping.
  bool install(Connection& c, const std::string& peer_id, const std::string* reply) {
    Peer* peer = nullptr;
    Loss replaced;
    std::string remote;
    {
      std::lock_guard lock(mutex_);
      if (stopping_ || c.failed) return false;
      if (reply != nullptr) {
        // A few bytes into an empty socket buffer: does not block.
        ErrorCode ec;
        asio::write(c.socket, asio::buffer(*reply), ec);
        if (ec) return false;
      }
      peer = &peer_locked(peer_id);
      if (peer->connection != nullptr) replaced = fail_locked(*peer->connection);
      c.peer = peer;
      peer->connection = &c;
      counters_.opened.fetch_add(1);
      c.threads_running += reply != nullptr ? 1 : 2;
      if (reply == nullptr) c.receiver = std::thread([this, &c] { receiver_main(c); });
      c.sender = std::thread([this, &c] { sender_main(c); });
      // Once unlocked, `c` may end and be freed unless the caller is its receiver.
      remote = c.remote;
    }
    report(replaced, "replaced by a new connection from the same peer");
    logger()->info("data plane {}: connected to peer {} at {}", self_id_, peer_id, remote);
    connected_cv_.notify_all();
    peer->sender_wakeup.notify();
    return true;
  }

  // A connection that ended while it was its peer's live one.
  struct Loss {
    Peer* peer = nullptr;
    std::string remote;
  };

  // Ends `c` once: wakes its threads and, when it was its peer's live
  // connection, stops the peer's channels. The caller reports the loss
  // after unlocking.
  Loss fail_locked(Connection& c) {
    Loss loss;
    if (c.failed.exchange(true)) return loss;
    interrupt(c.socket);
    if (c.peer == nullptr) return loss;
    c.peer->sender_wakeup.notify();
    if (c.peer->connection != &c) return loss;
    detach_locked(*c.peer);
    loss.peer = c.peer;
    loss.remote = c.remote;
    return loss;
  }

  // Called by the connection's own threads (so `c` stays alive).
  void fail(Connection& c, const std::string& reason) {
    Loss loss;
    {
      std::lock_guard lock(mutex_);
      loss = fail_locked(c);
    }
    report(loss, reason);
  }

  // Logs a loss and tells on_peer_lost; without locks.
  void report(const Loss& loss, const std::string& reason) {
    if (loss.peer == nullptr || stopping_flag_) return;
    counters_.lost.fetch_add(1);
    logger()->warn("data plane {}: lost the connection to peer {} ({}): {}", self_id_,
                   loss.peer->id, loss.remote, reason);
    if (!on_peer_lost_) return;
    try {
      on_peer_lost_(loss.peer->id, reason);
    } catch (const std::exception& e) {
      logger()->error("data plane {}: on_peer_lost for {} failed: {}", self_id_, loss.peer->id,
                      e.what());
    }
  }

  // The peer's channels stop for good: their elements in flight are lost.
  void detach_locked(Peer& peer) {
    peer.connection = nullptr;
    for (auto& [key, out] : peer.outbound) {
      out->broken = true;
      out->credits = 0;
    }
    for (auto& [key, in] : peer.inbound) in->broken = true;
    peer.early_credits.clear();
    peer.credit_ready.clear();
  }

  // Joins and frees connections whose threads have finished.
  void reap_locked() {
    if (stopping_) return;  // stop() owns them now
    for (auto it = connections_.begin(); it != connections_.end();) {
      Connection& c = **it;
      if (!c.failed || c.threads_running.load() != 0) {
        ++it;
        continue;
      }
      if (c.receiver.joinable()) c.receiver.join();
      if (c.sender.joinable()) c.sender.join();
      it = connections_.erase(it);
    }
  }

  // ---- handshake ----------------------------------------------------------

  // Runs one asynchronous operation on the connection's own io_context for
  // at most `timeout`; cancels it after that.
  template <class Start>
  ErrorCode run_with_timeout(Connection& c, std::chrono::milliseconds timeout, Start start) {
    bool done = false;
    ErrorCode result;
    start([&done, &result](const ErrorCode& ec) {
      done = true;
      result = ec;
    });
    c.io.restart();
    c.io.run_for(timeout);
    if (done) return result;
    ErrorCode ignored;
    c.socket.cancel(ignored);
    c.io.restart();
    c.io.run();  // lets the cancelled handler run
    return asio::error::timed_out;
  }

  Hello read_hello(Connection& c, std::chrono::milliseconds timeout) {
    auto read_exactly = [&](char* data, size_t n, const char* what) {
      ErrorCode ec = run_with_timeout(c, timeout, [&](auto done) {
        asio::async_read(c.socket, asio::buffer(data, n),
                         [done](const ErrorCode& e, size_t) { done(e); });
      });
      if (ec == asio::error::timed_out) {
        throw ExternalError(fmt::format("no {} within {} ms", what, timeout.count()));
      }
      if (ec == asio::error::eof) throw ExternalError(fmt::format("closed before its {}", what));
      if (ec) throw ExternalError(fmt::format("reading the {} failed: {}", what, ec.message()));
    };
    char header[kFrameHeaderBytes];
    read_exactly(header, sizeof header, "hello");
    FrameHeader h = parse_frame_header(header, kMaxHelloBytes);
    if (h.kind != FrameKind::kDataHello) {
      throw InputError(
          fmt::format("expected a hello frame, got a {} frame", frame_kind_name(h.kind)));
    }
    std::string payload(h.length, '\0');
    read_exactly(payload.data(), payload.size(), "hello");
    return parse_hello(payload);
  }

  // ---- receiving ----------------------------------------------------------

  void receiver_main(Connection& c) {
    receive_loop(c);
    c.threads_running.fetch_sub(1);
  }

  void receive_loop(Connection& c) {
    Peer& peer = *c.peer;
    FrameReader reader(c.socket, counters_.bytes_received);
    try {
      while (true) {
        FrameHeader h = parse_frame_header(reader.peek(kFrameHeaderBytes), kMaxDataFrameBytes);
        reader.consume(kFrameHeaderBytes);
        std::string_view payload(reader.peek(h.length), h.length);
        counters_.frames_received.fetch_add(1, std::memory_order_relaxed);
        switch (h.kind) {
          case FrameKind::kData:
            on_data(peer, payload);
            break;
          case FrameKind::kCredit:
            on_credit(peer, payload);
            break;
          default:
            throw InputError(
                fmt::format("unexpected {} frame on a data connection", frame_kind_name(h.kind)));
        }
        reader.consume(h.length);
      }
    } catch (const InputError& e) {
      fail(c, fmt::format("protocol error: {}", e.what()));
    } catch (const std::exception& e) {
      fail(c, e.what());
    }
  }

  bool attempt_removed_locked(const ChannelKey& key) const {
    return removed_attempts_.count({key.job, key.attempt}) != 0;
  }

  void on_data(Peer& peer, std::string_view payload) {
    ByteReader r(payload);
    ChannelKey key = read_key(r);
    std::lock_guard use(peer.receiver_use);
    ElementDecoder* decoder = nullptr;
    {
      std::lock_guard lock(mutex_);
      auto it = peer.inbound.find(key);
      if (it == peer.inbound.end()) {
        if (!attempt_removed_locked(key)) {
          throw InputError(
              fmt::format("data for channel {}, which is not registered", channel_key_name(key)));
        }
      } else if (!it->second->broken) {
        decoder = it->second->decoder.get();
      }
    }
    if (decoder == nullptr) {
      counters_.dropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    try {
      decoder->decode_into_channel(payload.substr(kChannelKeyBytes));
    } catch (const InputError& e) {
      throw InputError(fmt::format("channel {}: {}", channel_key_name(key), e.what()));
    }
  }

  void on_credit(Peer& peer, std::string_view payload) {
    ByteReader r(payload);
    ChannelKey key = read_key(r);
    uint32_t count = Codec<uint32_t>::decode(r);
    if (!r.at_end() || count == 0) throw InputError("malformed credit frame");
    bool wake = false;
    {
      std::lock_guard lock(mutex_);
      auto it = peer.outbound.find(key);
      if (it != peer.outbound.end()) {
        if (!it->second->broken) {
          it->second->credits += count;
          wake = true;
        }
      } else if (!attempt_removed_locked(key)) {
        auto [early, added] = peer.early_credits.try_emplace(key, 0);
        if (added && peer.early_credits.size() > kMaxEarlyCredits) {
          throw InputError("credits for too many unregistered channels");
        }
        early->second += count;
      }
    }
    if (wake) peer.sender_wakeup.notify();
  }

  // ---- sending ------------------------------------------------------------

  void sender_main(Connection& c) {
    Peer& peer = *c.peer;
    std::string out;
    std::vector<Outbound*> ready;
    std::vector<ChannelKey> credit_keys;
    try {
      while (!c.failed) {
        out.clear();
        if (out.capacity() > 4 * options_.write_batch_bytes + kKeepReadBufferBytes) {
          std::string().swap(out);  // after a huge element
        }
        {
          std::lock_guard use(peer.sender_use);
          fill(c, peer, out, ready, credit_keys);
        }
        if (out.empty()) {
          peer.sender_wakeup.wait_for(kIdleWait);
          continue;
        }
        asio::write(c.socket, asio::buffer(out));
        counters_.writes.fetch_add(1, std::memory_order_relaxed);
        counters_.bytes_sent.fetch_add(out.size(), std::memory_order_relaxed);
      }
    } catch (const boost::system::system_error& e) {
      fail(c, fmt::format("write failed: {}", e.code().message()));
    } catch (const std::exception& e) {
      fail(c, e.what());
    }
    c.threads_running.fetch_sub(1);
  }

  // Appends due credits, then data frames round robin over the outbound
  // channels that have credit, until write_batch_bytes or nothing is left.
  void fill(Connection& c, Peer& peer, std::string& out, std::vector<Outbound*>& ready,
            std::vector<ChannelKey>& credit_keys) {
    ready.clear();
    uint64_t frames = 0;
    {
      std::lock_guard lock(mutex_);
      if (peer.connection != &c) return;
      credit_keys.swap(peer.credit_ready);
      for (const ChannelKey& key : credit_keys) {
        auto it = peer.inbound.find(key);
        if (it == peer.inbound.end() || it->second->broken) continue;
        uint32_t count = it->second->credits_to_return.exchange(0);
        if (count == 0) continue;
        append_credit_frame(out, key, count);
        ++frames;
      }
      credit_keys.clear();
      for (auto& [key, o] : peer.outbound) {
        if (!o->broken && o->credits.load() > 0) ready.push_back(o.get());
      }
    }
    if (!ready.empty()) {
      // Start each fill at another channel, so none waits behind a busy one.
      std::rotate(ready.begin(),
                  ready.begin() + static_cast<ptrdiff_t>(c.round_robin++ % ready.size()),
                  ready.end());
      bool progress = true;
      while (progress && out.size() < options_.write_batch_bytes) {
        progress = false;
        for (Outbound* o : ready) {
          if (o->credits.load() <= 0 || !append_data_frame(*o, out)) continue;
          o->credits.fetch_sub(1);
          ++frames;
          progress = true;
          if (out.size() >= options_.write_batch_bytes) break;
        }
      }
    }
    counters_.frames_sent.fetch_add(frames, std::memory_order_relaxed);
  }

  bool append_data_frame(Outbound& o, std::string& out) {
    size_t start = out.size();
    out.append(kFrameHeaderBytes, '\0');
    put_key(out, o.key);
    if (!o.encoder->encode_next(out)) {
      out.resize(start);
      return false;
    }
    size_t length = out.size() - start - kFrameHeaderBytes;
    if (length > kMaxDataFrameBytes) {
      throw InputError(fmt::format(
          "an element of channel {} encodes to {} bytes, more than a data frame's {} bytes",
          channel_key_name(o.key), length, kMaxDataFrameBytes));
    }
    std::string header;  // 12 bytes: no allocation
    append_frame_header(header, FrameKind::kData, static_cast<uint32_t>(length));
    std::memcpy(out.data() + start, header.data(), kFrameHeaderBytes);
    return true;
  }

  // ---- queries and stop ---------------------------------------------------

  Peer& peer_locked(const std::string& id) {
    auto [it, added] = peers_.try_emplace(id);
    if (added) {
      it->second = std::make_unique<Peer>();
      it->second->id = id;
    }
    return *it->second;
  }

  size_t connection_count() const {
    std::lock_guard lock(mutex_);
    return static_cast<size_t>(std::count_if(peers_.begin(), peers_.end(), [](const auto& p) {
      return p.second->connection != nullptr;
    }));
  }

  bool connected_locked(const std::string& id) const {
    auto it = peers_.find(id);
    return it != peers_.end() && it->second->connection != nullptr;
  }

  void stop() {
    std::lock_guard serial(stop_mutex_);
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return;
      stopping_ = true;
      stopping_flag_ = true;
    }
    stop_cv_.notify_all();
    // Wakes the blocking accept() (Linux: it fails with EINVAL).
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    if (accept_thread_.joinable()) accept_thread_.join();
    std::vector<Connection*> all;
    {
      std::lock_guard lock(mutex_);
      for (auto& c : connections_) {
        c->failed = true;
        interrupt(c->socket);
        all.push_back(c.get());
      }
      for (auto& [id, peer] : peers_) {
        if (peer->connection != nullptr) detach_locked(*peer);
        peer->sender_wakeup.notify();
      }
    }
    for (Connection* c : all) {
      if (c->receiver.joinable()) c->receiver.join();
      if (c->sender.joinable()) c->sender.join();  // started by the receiver, if at all
    }
    // A connect_peers() in progress has seen its socket interrupted (or
    // will see stopping_) and is about to return; it may still touch its
    // connection until then.
    std::lock_guard serial_connect(connect_mutex_);
    std::lock_guard lock(mutex_);
    connections_.clear();
    ErrorCode ignored;
    acceptor_.close(ignored);
    stopped_ = true;
  }

  const std::string self_id_;
  const DataPlaneOptions options_;
  const PeerLostFn on_peer_lost_;

  asio::io_context acceptor_io_;
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

DataPlane::DataPlane(std::string self_id, std::string bind_host, uint16_t port,
                     PeerLostFn on_peer_lost, DataPlaneOptions options)
    : impl_(std::make_unique<Impl>(std::move(self_id), bind_host, port, std::move(on_peer_lost),
                                   options)) {}

DataPlane::~DataPlane() = default;

const std::string& DataPlane::id() const {
  return impl_->self_id_;
}
uint16_t DataPlane::port() const {
  return impl_->port_;
}

void DataPlane::connect_peers(const std::vector<DataPeer>& peers) {
  impl_->connect_peers(peers);
}

void DataPlane::add_outbound(const std::string& peer, const ChannelKey& key, ChannelBase* channel,
                             std::unique_ptr<ElementEncoder> encoder) {
  impl_->add_outbound(peer, key, channel, std::move(encoder));
}

void DataPlane::add_inbound(const std::string& peer, const ChannelKey& key, ChannelBase* channel,
                            std::unique_ptr<ElementDecoder> decoder) {
  impl_->add_inbound(peer, key, channel, std::move(decoder));
}

void DataPlane::remove_attempt(uint32_t job, uint32_t attempt) {
  impl_->remove_attempt(job, attempt);
}

size_t DataPlane::connection_count() const {
  return impl_->connection_count();
}

bool DataPlane::connected_to(const std::string& peer) const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->connected_locked(peer);
}

bool DataPlane::wait_connected(const std::string& peer, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex_);
  return impl_->connected_cv_.wait_for(lock, timeout,
                                       [&] { return impl_->connected_locked(peer); });
}

DataPlaneStats DataPlane::stats() const {
  const Impl::Counters& c = impl_->counters_;
  DataPlaneStats s;
  s.connections_opened = c.opened.load();
  s.connections_lost = c.lost.load();
  s.sockets_rejected = c.rejected.load();
  s.frames_sent = c.frames_sent.load();
  s.frames_received = c.frames_received.load();
  s.bytes_sent = c.bytes_sent.load();
  s.bytes_received = c.bytes_received.load();
  s.writes = c.writes.load();
  s.dropped_frames = c.dropped.load();
  return s;
}

void DataPlane::stop() {
  impl_->stop();
}

}  // namespace sluice
