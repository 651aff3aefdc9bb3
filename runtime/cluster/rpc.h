// The control-plane transport: pb::Envelope messages, one per kControl
// frame (runtime/cluster/frame.h), over TCP with Boost.Asio. The job
// manager listens with an RpcServer; task managers connect with
// rpc_connect; command-line tools use the blocking RpcClient.
//
// A connection checks every frame header before it reads the payload and
// validates every message (runtime/cluster/validate.h) before a handler sees
// it. A peer that sends garbage, an oversized or foreign frame, an
// unparsable or invalid message is disconnected with one warning line
// ("rpc: closing connection from 127.0.0.1:5555: frame of 99999999 bytes
// exceeds the maximum of 4194304 bytes"); nothing it sent reaches a handler.
//
// Threading: one IoThread runs every socket operation of the servers and
// connections built on it, and calls their handlers, one at a time. A
// handler must not block: it hands work to other threads (a mailbox) or
// answers with send(). send(), close() and peer() may be used from
// any thread.
//
// Lifecycle: IoThread first, then servers and connections; stop servers and
// close connections (or destroy the server) before the IoThread stops, and
// drop every RpcConnection pointer before the IoThread is destroyed. An open
// connection keeps itself alive through its pending reads, so dropping the
// last pointer does not close it: call close().
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include <boost/asio.hpp>

#include "runtime/cluster/cluster.pb.h"
#include "runtime/cluster/frame.h"

namespace sluice {

// An io_context and the one thread that runs it.
class IoThread {
 public:
  IoThread();
  // Stops and joins.
  ~IoThread();
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  boost::asio::io_context& context() { return context_; }
  // True on the thread that runs the context.
  bool on_io_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

  // Runs the handlers already posted, then stops the context and joins the
  // thread. Idempotent; must not be called on the io thread.
  void stop();

 private:
  boost::asio::io_context context_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

// One end of a control-plane connection: a TCP socket (RpcConnection) or,
// on the local cluster, an in-process link (runtime/cluster/local_link.h).
// The job manager and task managers see only this, so both run the same
// code in a cluster and inside `sluice run`.
class ControlConnection {
 public:
  virtual ~ControlConnection() = default;
  // Queues `envelope` for the other end; dropped once closed. Thread-safe.
  virtual void send(const pb::Envelope& envelope) = 0;
  // Closes both ends; each side's on_close runs once. Idempotent.
  virtual void close() = 0;
  virtual bool closed() const = 0;
  // The other end, for log lines.
  virtual const std::string& peer() const = 0;
};

// What a connection calls, on the io thread. on_message gets every valid
// message in order; on_close is called once, when the connection closes for
// whatever reason (the peer left, an error, close()), and nothing after it.
// Either may be empty. An exception thrown by a handler closes the
// connection.
struct RpcHandlers {
  std::function<void(const std::shared_ptr<ControlConnection>&, pb::Envelope&&)> on_message;
  std::function<void(const std::shared_ptr<ControlConnection>&, const std::string& reason)>
      on_close;
};

// Which end opened the connection; says "from" or "to" in log lines.
enum class RpcSide { kAccepted, kConnected };

// One connected control-plane socket.
class RpcConnection final : public ControlConnection,
                            public std::enable_shared_from_this<RpcConnection> {
 public:
  // Takes a connected socket of `io`'s context. Used by RpcServer and
  // rpc_connect; call start() once to begin reading.
  RpcConnection(IoThread& io, boost::asio::ip::tcp::socket socket, RpcHandlers handlers,
                RpcSide side);
  RpcConnection(const RpcConnection&) = delete;
  RpcConnection& operator=(const RpcConnection&) = delete;

  // Begins the read loop (on the io thread).
  void start();

  // Queues `envelope` for writing: serialised and framed on the caller's
  // thread, written in order, one write at a time. Dropped silently once the
  // connection is closed (on_close tells). Throws SluiceError (internal)
  // when the message exceeds kMaxControlFrameBytes.
  void send(const pb::Envelope& envelope) override;

  // Closes the socket and calls on_close with "closed locally": right away
  // on the io thread, otherwise posted to it. Queued writes are dropped.
  // Idempotent.
  void close() override;

  bool closed() const override { return closed_.load(); }
  // The remote end, "host:port".
  const std::string& peer() const override { return peer_; }

 private:
  void read_header();
  void read_payload(uint32_t length);
  void deliver();
  void enqueue(std::string frame);
  void write_next();
  enum class CloseCause { kLocal, kPeerLeft, kError };
  // On the io thread: closes, logs `reason` and calls on_close, once.
  void shut(CloseCause cause, const std::string& reason);
  void on_read_error(const boost::system::error_code& ec, bool in_frame);

  IoThread& io_;
  boost::asio::ip::tcp::socket socket_;
  RpcHandlers handlers_;
  const RpcSide side_;
  const std::string peer_;
  std::atomic<bool> closed_{false};

  // Io thread only.
  std::array<char, kFrameHeaderBytes> header_{};
  std::string payload_;
  std::deque<std::string> writes_;
};

// Accepts control-plane connections on one port.
class RpcServer {
 public:
  // Listens on `bind_host`:`port` (0: an ephemeral port) with SO_REUSEADDR
  // and starts accepting. Every accepted connection uses `handlers`. Throws
  // ExternalError("cannot listen on HOST:PORT: reason").
  RpcServer(IoThread& io, const std::string& bind_host, uint16_t port, RpcHandlers handlers);
  // Stops.
  ~RpcServer();
  RpcServer(const RpcServer&) = delete;
  RpcServer& operator=(const RpcServer&) = delete;

  // The bound port.
  uint16_t port() const { return port_; }

  // Closes the acceptor and every live connection (their on_close runs).
  // Off the io thread it returns once that is done, so no handler of this
  // server runs afterwards. Idempotent.
  void stop();

 private:
  struct State;
  IoThread& io_;
  std::shared_ptr<State> state_;
  uint16_t port_ = 0;
};

// Resolves and connects to `host`:`port` within `timeout` and starts the
// connection. Blocks; must not be called on the io thread. Throws
// ExternalError("cannot reach HOST:PORT: reason").
std::shared_ptr<RpcConnection> rpc_connect(IoThread& io, const std::string& host, uint16_t port,
                                           RpcHandlers handlers, std::chrono::milliseconds timeout);

// A blocking client for command-line tools: its own IoThread and one
// connection, whose messages queue until receive() takes them.
//
// Threading: one caller thread at a time.
class RpcClient {
 public:
  // Connects; throws ExternalError like rpc_connect.
  RpcClient(const std::string& host, uint16_t port, std::chrono::milliseconds timeout);
  // Closes the connection and joins the io thread.
  ~RpcClient();
  RpcClient(const RpcClient&) = delete;
  RpcClient& operator=(const RpcClient&) = delete;

  void send(const pb::Envelope& request);
  // Sends `request` and returns the next message received (which may have
  // arrived before the request went out). Throws ExternalError when none
  // arrives within `timeout` or the connection closes.
  pb::Envelope call(const pb::Envelope& request, std::chrono::milliseconds timeout);
  // The next message, or nullopt after `timeout`. Messages received before
  // the connection closed are returned first; then it throws
  // ExternalError("connection to HOST:PORT closed: reason").
  std::optional<pb::Envelope> receive(std::chrono::milliseconds timeout);

  // "host:port" as given to the constructor.
  const std::string& address() const { return address_; }

 private:
  struct Inbox {
    std::mutex mutex;
    std::condition_variable arrived;
    std::deque<pb::Envelope> messages;
    std::optional<std::string> closed;  // the reason, once closed
  };

  std::string address_;
  IoThread io_;
  std::shared_ptr<Inbox> inbox_;
  std::shared_ptr<RpcConnection> connection_;
};

}  // namespace sluice
