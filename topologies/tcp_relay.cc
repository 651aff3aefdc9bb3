#include "topologies/tcp_relay.h"

#include <array>
#include <charconv>
#include <thread>
#include <utility>  // before Boost.Asio 1.74, which needs std::exchange

#include <boost/asio.hpp>
#include <fmt/format.h>

#include "runtime/core/errors.h"
#include "runtime/core/logging.h"

namespace sluice::topologies {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// One relayed connection: two sockets, a buffer per direction. It lives as
// long as a pending operation holds it; the first error or end of stream on
// either side closes both.
class Pipe : public std::enable_shared_from_this<Pipe> {
 public:
  Pipe(tcp::socket client, asio::io_context& context)
      : client_(std::move(client)), target_(context), resolver_(context) {}

  void start(const std::string& host, uint16_t port) {
    auto self = shared_from_this();
    resolver_.async_resolve(
        host, std::to_string(port),
        [self, host, port](const boost::system::error_code& error,
                           const tcp::resolver::results_type& endpoints) {
          if (error) return self->fail("resolve " + host, error);
          asio::async_connect(
              self->target_, endpoints,
              [self, host, port](const boost::system::error_code& error, const tcp::endpoint&) {
                if (error) return self->fail(fmt::format("connect to {}:{}", host, port), error);
                self->copy(self->client_, self->target_, self->up_);
                self->copy(self->target_, self->client_, self->down_);
              });
        });
  }

 private:
  using Buffer = std::array<char, 64 * 1024>;

  void copy(tcp::socket& from, tcp::socket& to, Buffer& buffer) {
    auto self = shared_from_this();
    from.async_read_some(
        asio::buffer(buffer),
        [self, &from, &to, &buffer](const boost::system::error_code& error, size_t n) {
          if (error) return self->close();
          asio::async_write(
              to, asio::buffer(buffer.data(), n),
              [self, &from, &to, &buffer](const boost::system::error_code& error, size_t) {
                if (error) return self->close();
                self->copy(from, to, buffer);
              });
        });
  }

  void fail(const std::string& what, const boost::system::error_code& error) {
    log::cli()->warn("relay: cannot {}: {}", what, error.message());
    close();
  }

  void close() {
    boost::system::error_code ignored;
    client_.close(ignored);
    target_.close(ignored);
  }

  tcp::socket client_;
  tcp::socket target_;
  tcp::resolver resolver_;
  Buffer up_{};
  Buffer down_{};
};

}  // namespace

class TcpRelays::Impl {
 public:
  Impl() : work_(asio::make_work_guard(context_)), thread_([this] { context_.run(); }) {}
  // Stops the io thread; the listeners and relayed sockets close as their
  // handlers and acceptors are destroyed with the context.
  ~Impl() {
    context_.stop();
    thread_.join();
  }

  void add(const std::string& listen_host, uint16_t port, const std::string& target_host,
           uint16_t target_port) {
    boost::system::error_code error;
    asio::ip::address address = asio::ip::make_address(listen_host, error);
    if (error) {
      throw UsageError(fmt::format("relay: '{}' is not an IP address to listen on", listen_host));
    }
    auto acceptor = std::make_shared<tcp::acceptor>(context_);
    tcp::endpoint endpoint(address, port);
    acceptor->open(endpoint.protocol(), error);
    if (!error) acceptor->set_option(tcp::acceptor::reuse_address(true), error);
    if (!error) acceptor->bind(endpoint, error);
    if (!error) acceptor->listen(asio::socket_base::max_listen_connections, error);
    if (error) {
      throw ExternalError(
          fmt::format("relay: cannot listen on {}:{}: {}", listen_host, port, error.message()));
    }
    asio::post(context_, [this, acceptor, target_host, target_port] {
      acceptors_.push_back(acceptor);
      accept(acceptor, target_host, target_port);
    });
  }

 private:
  void accept(const std::shared_ptr<tcp::acceptor>& acceptor, const std::string& host,
              uint16_t port) {
    acceptor->async_accept(
        [this, acceptor, host, port](const boost::system::error_code& error, tcp::socket socket) {
          if (error == asio::error::operation_aborted) return;
          if (!error) std::make_shared<Pipe>(std::move(socket), context_)->start(host, port);
          accept(acceptor, host, port);
        });
  }

  asio::io_context context_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::vector<std::shared_ptr<tcp::acceptor>> acceptors_;  // on the io thread
  std::thread thread_;
};

TcpRelays::TcpRelays() : impl_(std::make_unique<Impl>()) {}
TcpRelays::~TcpRelays() = default;

void TcpRelays::add(const std::string& listen_host, uint16_t port, const std::string& target_host,
                    uint16_t target_port) {
  impl_->add(listen_host, port, target_host, target_port);
}

std::vector<uint16_t> bootstrap_ports(const std::string& bootstraps) {
  std::vector<uint16_t> ports;
  size_t start = 0;
  while (start <= bootstraps.size()) {
    size_t comma = bootstraps.find(',', start);
    std::string entry = bootstraps.substr(start, comma - start);
    size_t colon = entry.rfind(':');
    uint16_t port = 0;
    const char* first = entry.data() + (colon == std::string::npos ? 0 : colon + 1);
    auto [end, ec] = std::from_chars(first, entry.data() + entry.size(), port);
    if (colon == std::string::npos || ec != std::errc() || end != entry.data() + entry.size() ||
        port == 0) {
      throw InputError(
          fmt::format("bootstrap list '{}': '{}' is not HOST:PORT", bootstraps, entry));
    }
    ports.push_back(port);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return ports;
}

}  // namespace sluice::topologies
