// A plain HTTP/1.1 client for tests of the REST API and /metrics, on
// Boost.Beast, and a raw socket for what a well-behaved client never
// sends (malformed requests, slow or half requests).
//
// Threading: functions of the calling thread; each opens its own socket.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace sluice::testing {

struct HttpReply {
  int status = 0;
  std::string body;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;

  nlohmann::json json() const { return nlohmann::json::parse(body); }
  std::string header(const std::string& name) const;
};

// One request on a new connection to 127.0.0.1:`port`. Throws
// std::runtime_error when it cannot connect or read an answer.
HttpReply http_request(int port, const std::string& method, const std::string& target,
                       const std::string& body = "",
                       const std::vector<std::pair<std::string, std::string>>& headers = {});

struct RawExchange {
  std::string received;  // everything the server sent
  bool closed = false;   // the server closed the connection within the time
};

// Connects, sends `bytes` (and nothing more), and reads until the server
// closes the connection or `wait` passes.
RawExchange raw_exchange(int port, const std::string& bytes, std::chrono::milliseconds wait);

}  // namespace sluice::testing
