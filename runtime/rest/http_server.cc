#include "runtime/rest/http_server.h"

#include <atomic>
#include <optional>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runtime/core/errors.h"
#include "runtime/core/logging.h"

namespace sluice {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Compares without stopping at the first difference, so the time taken
// does not tell a guesser how much of a token was right.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned char differ = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    differ |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return differ == 0;
}

bool mutating(const std::string& method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

// The error a failed read of a request answers with, or 0 to close silently.
int status_for_read_error(const beast::error_code& ec) {
  if (ec == http::error::body_limit) return 413;
  if (ec == http::error::header_limit) return 431;
  if (ec.category() == http::make_error_code(http::error::bad_target).category()) return 400;
  return 0;  // closed, reset or timed out: nobody to answer
}

}  // namespace

HttpResponse json_error(int status, const std::string& message) {
  HttpResponse response;
  response.status = status;
  response.body = nlohmann::json{{"error", message}}.dump();
  return response;
}

std::string percent_decode(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    int high = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
    int low = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
    if (high < 0 || low < 0) {
      throw InputError(fmt::format("malformed percent escape at position {} of '{}'", i, text));
    }
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

std::map<std::string, std::string> parse_query(const std::string& query) {
  std::map<std::string, std::string> pairs;
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    std::string pair = query.substr(start, end - start);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string key = pair.substr(0, eq);
      std::string value = eq == std::string::npos ? "" : pair.substr(eq + 1);
      pairs[percent_decode(key)] = percent_decode(value);
    }
    start = end + 1;
  }
  return pairs;
}

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, HttpHandler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        work_(asio::make_work_guard(io_)),
        acceptor_(io_) {
    listen();
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }

  ~Impl() {
    asio::post(io_, [this] { close_all(); });
    work_.reset();
    thread_.join();
  }

  uint16_t port() const { return port_; }
  const std::string& bind_host() const { return options_.bind_host; }

 private:
  class Session;

  void listen() {
    try {
      tcp::resolver resolver(io_);
      tcp::endpoint endpoint =
          *resolver.resolve(options_.bind_host, std::to_string(options_.port)).begin();
      acceptor_.open(endpoint.protocol());
      acceptor_.set_option(asio::socket_base::reuse_address(true));
      acceptor_.bind(endpoint);
      acceptor_.listen();
      port_ = acceptor_.local_endpoint().port();
    } catch (const std::exception& e) {
      throw ExternalError(fmt::format("cannot serve HTTP on {}:{}: {}", options_.bind_host,
                                      options_.port, e.what()));
    }
  }

  void accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) start_session(std::move(socket));
      accept();
    });
  }

  void start_session(tcp::socket socket);
  void close_all();

  static std::string endpoint_text(const tcp::socket& socket) {
    beast::error_code ec;
    tcp::endpoint remote = socket.remote_endpoint(ec);
    return ec ? "an unknown peer"
              : fmt::format("{}:{}", remote.address().to_string(), remote.port());
  }

  HttpResponse answer(const Request& request) {
    HttpRequest r;
    r.method = std::string(request.method_string());
    std::string_view target(request.target().data(), request.target().size());
    size_t question = target.find('?');
    try {
      r.path = percent_decode(std::string(target.substr(0, question)));
      if (question != std::string_view::npos) {
        r.query = parse_query(std::string(target.substr(question + 1)));
      }
    } catch (const InputError& e) {
      return json_error(400, e.what());
    }
    r.body = request.body();
    r.content_type = std::string(request[http::field::content_type]);
    if (!options_.bearer_token.empty() && mutating(r.method) &&
        !same_secret(std::string(request[http::field::authorization]),
                     "Bearer " + options_.bearer_token)) {
      HttpResponse refused = json_error(401, "this request needs 'Authorization: Bearer TOKEN'");
      refused.headers.emplace_back("WWW-Authenticate", "Bearer");
      return refused;
    }
    try {
      return handler_(r);
    } catch (const UsageError& e) {
      return json_error(400, e.what());
    } catch (const InputError& e) {
      return json_error(400, e.what());
    } catch (const std::exception& e) {
      log::cluster()->error("HTTP {} {}: {}", r.method, r.path, e.what());
      return json_error(500, e.what());
    }
  }

  HttpServerOptions options_;
  HttpHandler handler_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::vector<std::weak_ptr<Session>> sessions_;  // on the io thread only
  std::thread thread_;
};

class HttpServer::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Impl& server, tcp::socket socket) : server_(server), stream_(std::move(socket)) {}

  void start() { read(); }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_.options_.max_header_bytes));
    parser_->body_limit(server_.options_.max_body_bytes);
    stream_.expires_after(std::chrono::milliseconds(server_.options_.read_timeout));
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(const beast::error_code& ec) {
    if (ec) {
      if (int status = status_for_read_error(ec); status != 0) {
        HttpResponse error = json_error(status, "bad HTTP request: " + ec.message());
        write(to_beast(error, 11, false, false), false);
      } else {
        close();
      }
      return;
    }
    Request request = parser_->release();
    bool keep_alive = request.keep_alive();
    bool head = request.method() == http::verb::head;
    HttpResponse response = server_.answer(request);
    write(to_beast(response, request.version(), keep_alive, head), keep_alive);
  }

  static Response to_beast(const HttpResponse& r, unsigned version, bool keep_alive, bool head) {
    Response response{static_cast<http::status>(r.status), version};
    response.set(http::field::server, "sluice");
    response.set(http::field::content_type, r.content_type);
    response.set(http::field::cache_control, "no-store");
    for (const auto& [name, value] : r.headers) response.set(name, value);
    response.keep_alive(keep_alive);
    response.body() = r.body;
    response.prepare_payload();
    if (head) response.body().clear();
    return response;
  }

  void write(Response response, bool keep_alive) {
    response_ = std::move(response);
    stream_.expires_after(std::chrono::milliseconds(server_.options_.read_timeout));
    http::async_write(stream_, response_,
                      [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                        if (ec || !keep_alive) return self->close();
                        self->read();
                      });
  }

  Impl& server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Response response_;
};

void HttpServer::Impl::start_session(tcp::socket socket) {
  std::erase_if(sessions_, [](const auto& weak) { return weak.expired(); });
  if (sessions_.size() >= options_.max_connections) {
    log::cluster()->warn("HTTP: refusing a connection from {}: {} connections open already",
                         endpoint_text(socket), sessions_.size());
    return;  // closes the socket
  }
  auto session = std::make_shared<Session>(*this, std::move(socket));
  sessions_.push_back(session);
  session->start();
}

void HttpServer::Impl::close_all() {
  beast::error_code ignored;
  acceptor_.close(ignored);
  for (auto& weak : sessions_) {
    if (auto session = weak.lock()) session->close();
  }
}

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}
HttpServer::~HttpServer() = default;
uint16_t HttpServer::port() const {
  return impl_->port();
}
const std::string& HttpServer::bind_host() const {
  return impl_->bind_host();
}

}  // namespace sluice
