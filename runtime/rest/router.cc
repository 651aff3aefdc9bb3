#include "runtime/rest/router.h"

#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runtime/core/errors.h"

namespace sluice {

HttpResponse json_response(const nlohmann::json& body, int status) {
  HttpResponse response;
  response.status = status;
  response.body = body.dump();
  return response;
}

nlohmann::json json_body(const HttpRequest& request) {
  if (request.body.empty()) return nlohmann::json::object();
  nlohmann::json body = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) throw InputError("the request's body is not valid JSON");
  if (!body.is_object()) throw InputError("the request's body must be a JSON object");
  return body;
}

void RestRouter::add(std::string method, const std::string& pattern, RouteHandler handler) {
  routes_.push_back(Route{std::move(method), split_path(pattern), std::move(handler)});
}

std::vector<std::string> RestRouter::split_path(const std::string& path) {
  std::vector<std::string> segments;
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) segments.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return segments;
}

bool RestRouter::match(const Route& route, const std::vector<std::string>& segments,
                       PathParams& params) {
  if (route.segments.size() != segments.size()) return false;
  PathParams found;
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::string& expected = route.segments[i];
    if (expected.size() > 2 && expected.front() == '{' && expected.back() == '}') {
      found[expected.substr(1, expected.size() - 2)] = segments[i];
    } else if (expected != segments[i]) {
      return false;
    }
  }
  params = std::move(found);
  return true;
}

HttpResponse RestRouter::handle(const HttpRequest& request) const {
  std::vector<std::string> segments = split_path(request.path);
  std::set<std::string> allowed;
  const std::string& method = request.method == "HEAD" ? std::string("GET") : request.method;
  for (const Route& route : routes_) {
    PathParams params;
    if (!match(route, segments, params)) continue;
    if (route.method == method) return route.handler(request, params);
    allowed.insert(route.method);
  }
  if (allowed.empty()) return json_error(404, fmt::format("no resource at {}", request.path));
  std::string allow;
  for (const std::string& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
  HttpResponse response = json_error(
      405, fmt::format("{} does not take {} (it takes {})", request.path, request.method, allow));
  response.headers.emplace_back("Allow", allow);
  return response;
}

}  // namespace sluice
