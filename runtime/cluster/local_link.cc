#include "runtime/cluster/local_link.h"

#include <atomic>
#include <mutex>

#include <boost/asio/post.hpp>

#include "runtime/cluster/validate.h"
#include "runtime/core/logging.h"

namespace sluice {
namespace {

class LocalEnd final : public ControlConnection, public std::enable_shared_from_this<LocalEnd> {
 public:
  LocalEnd(IoThread& io, RpcHandlers handlers, std::string peer)
      : io_(io), handlers_(std::move(handlers)), peer_(std::move(peer)) {}

  void connect(const std::shared_ptr<LocalEnd>& other) {
    std::lock_guard lock(mutex_);
    other_ = other;
  }

  void send(const pb::Envelope& envelope) override {
    if (std::shared_ptr<LocalEnd> other = other_end()) other->deliver(envelope);
  }

  // The ends hold each other until either is closed.
  void close() override {
    std::shared_ptr<LocalEnd> other = other_end();
    shut("closed locally");
    if (other) other->shut("closed by the peer");
  }

  bool closed() const override { return closed_.load(); }
  const std::string& peer() const override { return peer_; }

 private:
  // On the sender's thread: queues the message for this end's io thread,
  // unless this end is closed (its io thread may be going away).
  void deliver(const pb::Envelope& envelope) {
    std::lock_guard lock(mutex_);
    if (closed_.load()) return;
    boost::asio::post(
        io_.context(), [self = shared_from_this(), envelope = pb::Envelope(envelope)]() mutable {
          if (self->closed_.load() || !self->handlers_.on_message) return;
          try {
            validate_envelope(envelope);
            self->handlers_.on_message(self, std::move(envelope));
          } catch (const std::exception& e) {
            log::cluster()->warn("local link: closing the link to {}: {}", self->peer_, e.what());
            self->close();
          }
        });
  }

  std::shared_ptr<LocalEnd> other_end() {
    std::lock_guard lock(mutex_);
    return other_;
  }

  void shut(const std::string& reason) {
    std::lock_guard lock(mutex_);
    if (closed_.exchange(true)) return;
    other_.reset();
    boost::asio::post(io_.context(), [self = shared_from_this(), reason] {
      if (self->handlers_.on_close) self->handlers_.on_close(self, reason);
      self->handlers_ = RpcHandlers{};
    });
  }

  IoThread& io_;
  RpcHandlers handlers_;  // io thread only, once connected
  std::string peer_;
  std::mutex mutex_;
  std::shared_ptr<LocalEnd> other_;  // null once closed
  std::atomic<bool> closed_{false};
};

}  // namespace

std::pair<std::shared_ptr<ControlConnection>, std::shared_ptr<ControlConnection>> make_local_link(
    LocalLinkEnd a, LocalLinkEnd b) {
  auto a_end = std::make_shared<LocalEnd>(a.io, std::move(a.handlers), b.name);
  auto b_end = std::make_shared<LocalEnd>(b.io, std::move(b.handlers), a.name);
  a_end->connect(b_end);
  b_end->connect(a_end);
  return {a_end, b_end};
}

}  // namespace sluice
