// Routes HTTP requests to handlers by method and path pattern, such as
// "/jobs/{job}/vertices/{vertex}": a segment in braces matches any one
// path segment and hands it to the handler by name. A path no pattern
// matches gets 404; a path that matches with another method gets 405 with
// an Allow header. Answers are JSON unless a handler says otherwise.
//
// Threading: add() before serving; handle() from any thread (read only).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "runtime/rest/http_server.h"

namespace sluice {

using PathParams = std::map<std::string, std::string>;
using RouteHandler = std::function<HttpResponse(const HttpRequest&, const PathParams&)>;

// `body` as a JSON answer with `status`.
HttpResponse json_response(const nlohmann::json& body, int status = 200);
// The request's body as a JSON object; throws InputError saying why not.
nlohmann::json json_body(const HttpRequest& request);

class RestRouter {
 public:
  void add(std::string method, const std::string& pattern, RouteHandler handler);
  HttpResponse handle(const HttpRequest& request) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    RouteHandler handler;
  };
  static std::vector<std::string> split_path(const std::string& path);
  static bool match(const Route& route, const std::vector<std::string>& segments,
                    PathParams& params);

  std::vector<Route> routes_;
};

}  // namespace sluice
