#include "runtime/cluster/data_plane.h"

#include <sys/socket.h>

#include <algorithm>
#include <mutex>
#include <utility>

#include <boost/asio.hpp>
#include <fmt/format.h>

#include "runtime/cluster/data_plane_impl.h"
#include "runtime/core/errors.h"

namespace sluice {

using namespace data_plane_detail;

DataPlane::Impl::Impl(std::string self_id, const std::string& bind_host, uint16_t port,
                      PeerLostFn on_peer_lost, DataPlaneOptions options)
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

void DataPlane::Impl::add_outbound(const std::string& peer_id, const ChannelKey& key,
                                   ChannelBase* channel, std::unique_ptr<ElementEncoder> encoder) {
  if (channel == nullptr || !encoder)
    throw UsageError("data plane: outbound channel without encoder");
  Peer* peer;
  {
    std::lock_guard lock(mutex_);
    peer = &peer_locked(peer_id);
    if (peer->outbound.count(key) != 0) {
      throw UsageError(fmt::format("data plane {}: outbound channel {} registered twice", self_id_,
                                   channel_key_name(key)));
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

void DataPlane::Impl::add_inbound(const std::string& peer_id, const ChannelKey& key,
                                  ChannelBase* channel, std::unique_ptr<ElementDecoder> decoder) {
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

void DataPlane::Impl::remove_attempt(uint32_t job, uint32_t attempt) {
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

DataPlane::Impl::Peer& DataPlane::Impl::peer_locked(const std::string& id) {
  auto [it, added] = peers_.try_emplace(id);
  if (added) {
    it->second = std::make_unique<Peer>();
    it->second->id = id;
  }
  return *it->second;
}

size_t DataPlane::Impl::connection_count() const {
  std::lock_guard lock(mutex_);
  return static_cast<size_t>(std::count_if(
      peers_.begin(), peers_.end(), [](const auto& p) { return p.second->connection != nullptr; }));
}

bool DataPlane::Impl::connected_locked(const std::string& id) const {
  auto it = peers_.find(id);
  return it != peers_.end() && it->second->connection != nullptr;
}

void DataPlane::Impl::stop() {
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
