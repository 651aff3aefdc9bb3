// A small HTTP/1.1 server on Boost.Beast for the REST API, the dashboard
// and Prometheus scrapes (design section 11). It answers one request at a
// time per connection, with keep-alive, and defends itself against the
// clients a public port meets: a request whose header or body is larger
// than the limits gets 431 or 413, malformed HTTP gets 400, a client that
// sends a request too slowly (or not at all) is cut off at the read
// timeout, and connections beyond the limit are refused. Errors are JSON
// objects, {"error": "..."}. With a bearer token set, every request other
// than GET and HEAD must carry `Authorization: Bearer TOKEN` (401 without).
//
// Threading: one thread of its own runs every connection and calls the
// handler; a handler must not block for long (it takes the owner's lock,
// builds an answer and returns). Lifecycle: construct (listens; throws
// ExternalError when it cannot) -> serve -> destroy (closes every
// connection and joins the thread).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/core/time.h"

namespace sluice {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // decoded, without the query
  std::map<std::string, std::string> query;
  std::string body;
  std::string content_type;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones
};

// {"error": message} with `status`.
HttpResponse json_error(int status, const std::string& message);

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  std::string bind_host = "127.0.0.1";
  uint16_t port = 0;         // 0: any free port
  std::string bearer_token;  // empty: mutating requests need none
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1024 * 1024;
  DurationMs read_timeout = 10000;  // for a whole request, from its first byte or the last answer
  size_t max_connections = 128;
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const;
  const std::string& bind_host() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Splits "a=1&b=x%20y" into its decoded pairs; throws InputError for a
// malformed percent escape.
std::map<std::string, std::string> parse_query(const std::string& query);
// Decodes percent escapes; throws InputError for a malformed one.
std::string percent_decode(const std::string& text);

}  // namespace sluice
