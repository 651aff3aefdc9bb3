// Dialing, accepting and the hello handshake of the data plane
// (runtime/cluster/data_plane_impl.h).
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include <boost/asio.hpp>
#include <fmt/format.h>

#include "runtime/cluster/data_plane_impl.h"
#include "runtime/core/codec.h"
#include "runtime/core/errors.h"

namespace sluice {

using namespace data_plane_detail;

namespace {

constexpr uint32_t kMaxHelloBytes = 4096;

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

void configure(tcp::socket& socket) {
  ErrorCode ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  socket.set_option(asio::socket_base::keep_alive(true), ignored);
}

std::string remote_name(const tcp::socket& socket) {
  ErrorCode ec;
  tcp::endpoint ep = socket.remote_endpoint(ec);
  if (ec) return "an unknown address";
  return fmt::format("{}:{}", ep.address().to_string(), ep.port());
}

}  // namespace

void DataPlane::Impl::connect_peers(const std::vector<DataPeer>& peers) {
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

void DataPlane::Impl::dial_peer(const DataPeer& p) {
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

void DataPlane::Impl::accept_loop() {
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

void DataPlane::Impl::accepted_main(Connection& c) {
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

void DataPlane::Impl::reject(Connection& c, const std::string& reason) {
  c.failed = true;
  interrupt(c.socket);
  if (stopping_flag_) return;
  counters_.rejected.fetch_add(1);
  logger()->warn("data plane {}: dropped the connection from {} before its hello: {}", self_id_,
                 c.remote, reason);
}

bool DataPlane::Impl::install(Connection& c, const std::string& peer_id, const std::string* reply) {
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

void DataPlane::Impl::reap_locked() {
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

template <class Start>
ErrorCode DataPlane::Impl::run_with_timeout(Connection& c, std::chrono::milliseconds timeout,
                                            Start start) {
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

Hello DataPlane::Impl::read_hello(Connection& c, std::chrono::milliseconds timeout) {
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

}  // namespace sluice
