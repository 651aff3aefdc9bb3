#include "runtime/cluster/rpc.h"

#include <charconv>
#include <future>
#include <set>

#include <fmt/format.h>

#include "runtime/cluster/validate.h"
#include "runtime/core/errors.h"
#include "runtime/core/logging.h"

namespace sluice {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

// How long the accept loop pauses after a failed accept.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};
// A payload buffer larger than this is released after use.
constexpr size_t kKeptPayloadCapacity = 64 << 10;

std::string endpoint_name(const tcp::endpoint& endpoint) {
  const asio::ip::address& address = endpoint.address();
  if (address.is_v6()) return fmt::format("[{}]:{}", address.to_string(), endpoint.port());
  return fmt::format("{}:{}", address.to_string(), endpoint.port());
}

std::string remote_name(const tcp::socket& socket) {
  error_code ec;
  tcp::endpoint endpoint = socket.remote_endpoint(ec);
  return ec ? std::string("an unknown peer") : endpoint_name(endpoint);
}

// Runs `fn` on the io thread and waits for it; runs it right here when
// called on the io thread or when the io thread no longer runs. `fn` must
// not throw.
template <class Fn>
void run_on_io(IoThread& io, Fn fn) {
  if (io.on_io_thread() || io.context().stopped()) {
    fn();
    return;
  }
  std::promise<void> done;
  std::future<void> finished = done.get_future();
  asio::post(io.context(), [&] {
    fn();
    done.set_value();
  });
  finished.wait();
}

}  // namespace

// ---- IoThread ----

IoThread::IoThread()
    : work_(asio::make_work_guard(context_)), thread_([this] { context_.run(); }) {}

IoThread::~IoThread() {
  stop();
}

void IoThread::stop() {
  if (!thread_.joinable()) return;
  if (on_io_thread()) {
    throw SluiceError(ErrorKind::kInternal, "IoThread::stop() called on the io thread");
  }
  work_.reset();
  // Posted last, so the handlers posted before it (closes) still run.
  asio::post(context_, [this] { context_.stop(); });
  thread_.join();
}

// ---- RpcConnection ----

RpcConnection::RpcConnection(IoThread& io, tcp::socket socket, RpcHandlers handlers, RpcSide side)
    : io_(io),
      socket_(std::move(socket)),
      handlers_(std::move(handlers)),
      side_(side),
      peer_(remote_name(socket_)) {
  error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
}

void RpcConnection::start() {
  asio::post(io_.context(), [self = shared_from_this()] {
    if (!self->closed()) self->read_header();
  });
}

void RpcConnection::read_header() {
  asio::async_read(socket_, asio::buffer(header_),
                   [self = shared_from_this()](const error_code& ec, size_t bytes) {
                     if (self->closed()) return;
                     if (ec) return self->on_read_error(ec, bytes > 0);
                     FrameHeader header;
                     try {
                       header = parse_frame_header(self->header_.data(), kMaxControlFrameBytes);
                     } catch (const InputError& e) {
                       return self->shut(CloseCause::kError, e.what());
                     }
                     if (header.kind != FrameKind::kControl) {
                       return self->shut(CloseCause::kError,
                                         fmt::format("a frame of kind {} on a control connection",
                                                     static_cast<int>(header.kind)));
                     }
                     self->read_payload(header.length);
                   });
}

void RpcConnection::read_payload(uint32_t length) {
  payload_.resize(length);
  asio::async_read(socket_, asio::buffer(payload_),
                   [self = shared_from_this()](const error_code& ec, size_t) {
                     if (self->closed()) return;
                     if (ec) return self->on_read_error(ec, true);
                     self->deliver();
                   });
}

void RpcConnection::deliver() {
  pb::Envelope envelope;
  bool parsed = envelope.ParseFromString(payload_);
  size_t size = payload_.size();
  payload_.clear();
  if (payload_.capacity() > kKeptPayloadCapacity) std::string().swap(payload_);
  if (!parsed) {
    return shut(CloseCause::kError, fmt::format("unparsable control message of {} bytes", size));
  }
  try {
    validate_envelope(envelope);
  } catch (const InputError& e) {
    return shut(CloseCause::kError, fmt::format("invalid message: {}", e.what()));
  }
  if (handlers_.on_message) {
    try {
      handlers_.on_message(shared_from_this(), std::move(envelope));
    } catch (const std::exception& e) {
      return shut(CloseCause::kError, fmt::format("message handler failed: {}", e.what()));
    }
  }
  if (!closed()) read_header();
}

void RpcConnection::on_read_error(const error_code& ec, bool in_frame) {
  if (ec == asio::error::eof && !in_frame) return shut(CloseCause::kPeerLeft, "closed by the peer");
  if (ec == asio::error::eof) {
    return shut(CloseCause::kError, "closed by the peer in the middle of a frame");
  }
  shut(CloseCause::kError, fmt::format("read failed: {}", ec.message()));
}

void RpcConnection::send(const pb::Envelope& envelope) {
  size_t size = envelope.ByteSizeLong();
  if (size > kMaxControlFrameBytes) {
    throw SluiceError(ErrorKind::kInternal,
                      fmt::format("rpc: a control message of {} bytes to {} exceeds the maximum "
                                  "of {} bytes",
                                  size, peer_, kMaxControlFrameBytes));
  }
  std::string frame;
  frame.reserve(kFrameHeaderBytes + size);
  append_frame_header(frame, FrameKind::kControl, static_cast<uint32_t>(size));
  envelope.AppendToString(&frame);
  if (closed()) return;
  asio::post(io_.context(), [self = shared_from_this(), frame = std::move(frame)]() mutable {
    self->enqueue(std::move(frame));
  });
}

void RpcConnection::enqueue(std::string frame) {
  if (closed()) return;
  writes_.push_back(std::move(frame));
  if (writes_.size() == 1) write_next();
}

void RpcConnection::write_next() {
  asio::async_write(socket_, asio::buffer(writes_.front()),
                    [self = shared_from_this()](const error_code& ec, size_t) {
                      if (self->closed()) return;
                      if (ec) {
                        return self->shut(CloseCause::kError,
                                          fmt::format("write failed: {}", ec.message()));
                      }
                      self->writes_.pop_front();
                      if (!self->writes_.empty()) self->write_next();
                    });
}

void RpcConnection::close() {
  if (io_.on_io_thread()) return shut(CloseCause::kLocal, "closed locally");
  if (closed()) return;
  asio::post(io_.context(),
             [self = shared_from_this()] { self->shut(CloseCause::kLocal, "closed locally"); });
}

void RpcConnection::shut(CloseCause cause, const std::string& reason) {
  if (closed_.exchange(true)) return;
  // Pending operations complete with operation_aborted and see closed_;
  // queued writes stay alive until then, as their buffers are in use.
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  // A server's clients (`sluice list`, say) come and go: their leaving is
  // routine. A lost task manager is reported where it is handled.
  spdlog::level::level_enum level = spdlog::level::debug;
  if (cause == CloseCause::kError) {
    level = spdlog::level::warn;
  } else if (cause == CloseCause::kPeerLeft && side_ != RpcSide::kAccepted) {
    level = spdlog::level::info;
  }
  log::cluster()->log(level, "rpc: closing connection {} {}: {}",
                      side_ == RpcSide::kAccepted ? "from" : "to", peer_, reason);
  if (handlers_.on_close) {
    try {
      handlers_.on_close(shared_from_this(), reason);
    } catch (const std::exception& e) {
      log::cluster()->error("rpc: close handler of the connection {} {} failed: {}",
                            side_ == RpcSide::kAccepted ? "from" : "to", peer_, e.what());
    }
  }
  // The handlers may hold pointers to this connection; drop them once the
  // handler that may be running now (on_message calling close()) returned.
  asio::post(io_.context(), [self = shared_from_this()] { self->handlers_ = RpcHandlers{}; });
}

// ---- RpcServer ----

// Shared with the accept loop and the connections' close handlers, which
// may outlive the RpcServer object by a few io-thread handlers. Io thread
// only, once the constructor returned.
struct RpcServer::State : std::enable_shared_from_this<State> {
  State(IoThread& io, RpcHandlers handlers)
      : io(io), acceptor(io.context()), retry(io.context()), handlers(std::move(handlers)) {}

  void accept_next() {
    acceptor.async_accept([self = shared_from_this()](const error_code& ec, tcp::socket socket) {
      if (self->stopped) return;
      if (ec) return self->retry_accept(ec);
      auto connection = std::make_shared<RpcConnection>(
          self->io, std::move(socket), self->connection_handlers(), RpcSide::kAccepted);
      self->connections.insert(connection);
      connection->start();
      self->accept_next();
    });
  }

  // Failed accepts (such as running out of file descriptors) pause the
  // loop instead of spinning in it.
  void retry_accept(const error_code& failure) {
    log::cluster()->warn("rpc: accepting on port {} failed: {}; retrying", port, failure.message());
    retry.expires_after(kAcceptRetryDelay);
    retry.async_wait([self = shared_from_this()](const error_code& ec) {
      if (!ec && !self->stopped) self->accept_next();
    });
  }

  // The server's handlers; a closed connection also leaves `connections`.
  RpcHandlers connection_handlers() {
    RpcHandlers out;
    out.on_message = handlers.on_message;
    out.on_close = [weak = weak_from_this()](const std::shared_ptr<ControlConnection>& connection,
                                             const std::string& reason) {
      std::shared_ptr<State> self = weak.lock();
      if (!self) return;
      self->connections.erase(std::static_pointer_cast<RpcConnection>(connection));
      if (self->handlers.on_close) self->handlers.on_close(connection, reason);
    };
    return out;
  }

  IoThread& io;
  tcp::acceptor acceptor;
  asio::steady_timer retry;
  RpcHandlers handlers;
  uint16_t port = 0;
  std::set<std::shared_ptr<RpcConnection>> connections;
  bool stopped = false;
};

RpcServer::RpcServer(IoThread& io, const std::string& bind_host, uint16_t port,
                     RpcHandlers handlers)
    : io_(io), state_(std::make_shared<State>(io, std::move(handlers))) {
  tcp::acceptor& acceptor = state_->acceptor;
  try {
    tcp::resolver resolver(io.context());
    auto endpoints =
        resolver.resolve(bind_host.empty() ? "0.0.0.0" : bind_host, fmt::format("{}", port),
                         tcp::resolver::passive | tcp::resolver::numeric_service);
    tcp::endpoint endpoint = endpoints.begin()->endpoint();
    acceptor.open(endpoint.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen();
    port_ = acceptor.local_endpoint().port();
    state_->port = port_;
  } catch (const boost::system::system_error& e) {
    throw ExternalError(
        fmt::format("cannot listen on {}:{}: {}", bind_host, port, e.code().message()));
  }
  asio::post(io.context(), [state = state_] {
    if (!state->stopped) state->accept_next();
  });
}

RpcServer::~RpcServer() {
  stop();
}

void RpcServer::stop() {
  std::shared_ptr<State> state = state_;
  run_on_io(io_, [state] {
    if (state->stopped) return;
    state->stopped = true;
    error_code ignored;
    state->acceptor.close(ignored);
    state->retry.cancel();
    std::set<std::shared_ptr<RpcConnection>> connections;
    connections.swap(state->connections);
    for (const std::shared_ptr<RpcConnection>& connection : connections) connection->close();
  });
}

// ---- rpc_connect ----

std::shared_ptr<RpcConnection> rpc_connect(IoThread& io, const std::string& host, uint16_t port,
                                           RpcHandlers handlers,
                                           std::chrono::milliseconds timeout) {
  if (io.on_io_thread()) {
    throw SluiceError(ErrorKind::kInternal, "rpc_connect called on the io thread");
  }
  // The attempt's state lives on the io thread; the caller waits for `done`.
  struct Attempt {
    explicit Attempt(asio::io_context& context)
        : socket(context), resolver(context), timer(context) {}
    tcp::socket socket;
    tcp::resolver resolver;
    asio::steady_timer timer;
    bool finished = false;
    bool timed_out = false;
    std::promise<error_code> done;
  };
  auto attempt = std::make_shared<Attempt>(io.context());
  std::future<error_code> result = attempt->done.get_future();
  auto finish = [attempt](const error_code& ec) {
    if (attempt->finished) return;
    attempt->finished = true;
    attempt->timer.cancel();
    attempt->done.set_value(ec);
  };
  asio::post(io.context(), [attempt, finish, host, port, timeout] {
    attempt->timer.expires_after(timeout);
    // Finishes right away: a cancelled resolve only completes once the
    // name lookup returned.
    attempt->timer.async_wait([attempt, finish](const error_code& ec) {
      if (ec || attempt->finished) return;
      attempt->timed_out = true;
      attempt->resolver.cancel();
      error_code ignored;
      attempt->socket.close(ignored);
      finish(asio::error::timed_out);
    });
    attempt->resolver.async_resolve(
        host, fmt::format("{}", port), tcp::resolver::numeric_service,
        [attempt, finish](const error_code& ec, const tcp::resolver::results_type& endpoints) {
          if (ec || attempt->finished) return finish(ec);
          asio::async_connect(attempt->socket, endpoints,
                              [finish](const error_code& ec, const tcp::endpoint&) { finish(ec); });
        });
  });
  // The timer bounds the attempt; the margin covers a busy io thread.
  if (result.wait_for(timeout + std::chrono::seconds(5)) != std::future_status::ready) {
    throw ExternalError(fmt::format("cannot reach {}:{}: timed out", host, port));
  }
  error_code ec = result.get();
  if (attempt->timed_out) {
    throw ExternalError(
        fmt::format("cannot reach {}:{}: timed out after {} ms", host, port, timeout.count()));
  }
  if (ec) throw ExternalError(fmt::format("cannot reach {}:{}: {}", host, port, ec.message()));
  auto connection = std::make_shared<RpcConnection>(io, std::move(attempt->socket),
                                                    std::move(handlers), RpcSide::kConnected);
  connection->start();
  return connection;
}

// ---- RpcClient ----

RpcClient::RpcClient(const std::string& host, uint16_t port, std::chrono::milliseconds timeout)
    : address_(fmt::format("{}:{}", host, port)), inbox_(std::make_shared<Inbox>()) {
  RpcHandlers handlers;
  handlers.on_message = [inbox = inbox_](const std::shared_ptr<ControlConnection>&,
                                         pb::Envelope&& envelope) {
    std::lock_guard lock(inbox->mutex);
    inbox->messages.push_back(std::move(envelope));
    inbox->arrived.notify_all();
  };
  handlers.on_close = [inbox = inbox_](const std::shared_ptr<ControlConnection>&,
                                       const std::string& reason) {
    std::lock_guard lock(inbox->mutex);
    inbox->closed = reason;
    inbox->arrived.notify_all();
  };
  connection_ = rpc_connect(io_, host, port, std::move(handlers), timeout);
}

RpcClient::~RpcClient() {
  connection_->close();
  io_.stop();
}

void RpcClient::send(const pb::Envelope& request) {
  connection_->send(request);
}

pb::Envelope RpcClient::call(const pb::Envelope& request, std::chrono::milliseconds timeout) {
  send(request);
  std::optional<pb::Envelope> reply = receive(timeout);
  if (!reply) {
    throw ExternalError(fmt::format("no reply from {} within {} ms", address_, timeout.count()));
  }
  return std::move(*reply);
}

std::optional<pb::Envelope> RpcClient::receive(std::chrono::milliseconds timeout) {
  std::unique_lock lock(inbox_->mutex);
  bool ready = inbox_->arrived.wait_for(
      lock, timeout, [&] { return !inbox_->messages.empty() || inbox_->closed.has_value(); });
  if (!ready) return std::nullopt;
  if (!inbox_->messages.empty()) {
    pb::Envelope envelope = std::move(inbox_->messages.front());
    inbox_->messages.pop_front();
    return envelope;
  }
  throw ExternalError(fmt::format("connection to {} closed: {}", address_, *inbox_->closed));
}

}  // namespace sluice
