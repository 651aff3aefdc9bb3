#include "runtime/cluster/rest_api.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runtime/cluster/cluster_job.h"
#include "runtime/cluster/job_views.h"
#include "runtime/core/errors.h"
#include "runtime/core/file_io.h"
#include "runtime/job/registry.h"
#include "runtime/metrics/prometheus.h"

namespace sluice {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr char kVersion[] = "0.1.0";

HttpResponse no_job(const std::string& id) {
  return json_error(404, fmt::format("no job '{}' (GET /jobs lists them)", id));
}

// Runs `fn(job)` under the lock for the job named in the path.
template <class Fn>
HttpResponse with_job(JobManagerAccess& jm, const PathParams& params, Fn fn) {
  HttpResponse response;
  const std::string& id = params.at("job");
  jm.locked([&] {
    auto it = jm.job_table().find(id);
    response = it == jm.job_table().end() ? no_job(id) : fn(*it->second);
  });
  return response;
}

struct SlotTotals {
  int slots = 0;
  int free = 0;
};

SlotTotals slot_totals(const std::vector<TaskManagerView>& task_managers) {
  SlotTotals totals;
  for (const TaskManagerView& tm : task_managers) {
    totals.slots += tm.slots;
    totals.free += tm.free_slots;
  }
  return totals;
}

json overview_json(JobManagerAccess& jm) {
  std::vector<TaskManagerView> tms = jm.task_manager_views();
  auto [slots, free] = slot_totals(tms);
  std::map<std::string, int> by_state;
  for (const auto& [id, job] : jm.job_table()) ++by_state[job_state_name(job->state())];
  return json{{"taskmanagers", tms.size()},
              {"slots-total", slots},
              {"slots-available", free},
              {"jobs-running", by_state["running"]},
              {"jobs-waiting", by_state["waiting"]},
              {"jobs-finished", by_state["finished"]},
              {"jobs-cancelled", by_state["cancelled"]},
              {"jobs-failed", by_state["failed"]},
              {"sluice-version", kVersion}};
}

json task_managers_json(JobManagerAccess& jm) {
  json list = json::array();
  for (const TaskManagerView& tm : jm.task_manager_views()) {
    list.push_back(json{{"id", tm.id},
                        {"host", tm.host},
                        {"dataPort", tm.data_port},
                        {"metricsPort", tm.metrics_port},
                        {"slotsNumber", tm.slots},
                        {"freeSlots", tm.free_slots},
                        {"timeSinceLastHeartbeat", tm.heartbeat_age_ms},
                        {"memory", {{"rss", tm.rss_bytes}}}});
  }
  return json{{"taskmanagers", list}};
}

// The registered topologies with their --set parameters, for POST /jobs.
json topologies_json() {
  json list = json::array();
  for (const TopologySpec* spec : TopologyRegistry::instance().all()) {
    json params = json::array();
    for (const ParamSpec& p : spec->params) {
      params.push_back(
          json{{"name", p.name},
               {"description", p.description},
               {"default", p.default_value.empty() ? json(nullptr) : json(p.default_value)},
               {"required", p.required}});
    }
    list.push_back(
        json{{"name", spec->name}, {"description", spec->description}, {"params", params}});
  }
  return json{{"topologies", list}};
}

std::vector<std::string> string_list(const json& value, const std::string& field) {
  if (!value.is_array()) throw InputError(fmt::format("'{}' must be a list of strings", field));
  std::vector<std::string> out;
  for (const json& item : value) {
    if (!item.is_string()) throw InputError(fmt::format("'{}' must be a list of strings", field));
    out.push_back(item.get<std::string>());
  }
  return out;
}

pb::SubmitJob submission_of(const HttpRequest& request) {
  json body = json_body(request);
  if (!body.contains("topology") || !body["topology"].is_string()) {
    throw InputError("POST /jobs needs {\"topology\": NAME, \"args\": [OPTION, ...]}");
  }
  for (const auto& [key, value] : body.items()) {
    if (key != "topology" && key != "args" && key != "name") {
      throw InputError(fmt::format("POST /jobs: unknown field '{}' (topology, args, name)", key));
    }
  }
  pb::SubmitJob submit;
  submit.mutable_spec()->set_topology(body["topology"].get<std::string>());
  if (body.contains("args")) {
    for (const std::string& arg : string_list(body["args"], "args"))
      submit.mutable_spec()->add_args(arg);
  }
  if (body.contains("name")) {
    if (!body["name"].is_string()) throw InputError("'name' must be a string");
    submit.set_name(body["name"].get<std::string>());
  }
  return submit;
}

HttpResponse submit(JobManagerAccess& jm, const HttpRequest& request) {
  pb::SubmitJob job = submission_of(request);
  HttpResponse response;
  jm.locked([&] {
    try {
      response = json_response(json{{"jobid", jm.submit_job(job, "the REST API")}}, 202);
    } catch (const SluiceError& e) {
      response = json_error(400, e.what());
    }
  });
  return response;
}

HttpResponse cancel(JobManagerAccess& jm, const HttpRequest& request, const PathParams& params) {
  if (auto mode = request.query.find("mode");
      mode != request.query.end() && mode->second != "cancel") {
    return json_error(400, fmt::format("mode '{}' is not supported (cancel)", mode->second));
  }
  return with_job(jm, params, [](ClusterJob& job) {
    if (job.ended()) {
      return json_error(
          409, fmt::format("job {} has ended ({})", job.id(), job_state_name(job.state())));
    }
    job.cancel();
    return json_response(json::object(), 202);
  });
}

constexpr size_t kMaxPathChars = 4096;

bool is_plain_path(const std::string& path) {
  if (path.size() > kMaxPathChars) return false;
  return std::none_of(path.begin(), path.end(),
                      [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// The fields of a JSON object body, each checked against `allowed`
// (name -> JSON type); throws InputError naming the first that is not.
json checked_body(const HttpRequest& request, const char* what,
                  const std::map<std::string, json::value_t>& allowed) {
  json body = json_body(request);
  std::string names;
  for (const auto& [name, type] : allowed) names += (names.empty() ? "" : ", ") + name;
  for (const auto& [key, value] : body.items()) {
    auto it = allowed.find(key);
    if (it == allowed.end()) {
      throw InputError(fmt::format("{}: unknown field '{}' ({})", what, key, names));
    }
    bool text = it->second == json::value_t::string;
    if (text ? !value.is_string() : !value.is_boolean()) {
      throw InputError(
          fmt::format("{}: '{}' must be {}", what, key, text ? "a string" : "true or false"));
    }
    if (text && !is_plain_path(value.get<std::string>())) {
      throw InputError(
          fmt::format("{}: '{}' must be a path of at most {} characters without control characters",
                      what, key, kMaxPathChars));
    }
  }
  return body;
}

// Flink's stop: {"drain": true} ends the sources with the maximum
// watermark; without it the sources stop and a savepoint keeps the state.
// "targetDirectory" says where the savepoint goes.
HttpResponse stop(JobManagerAccess& jm, const HttpRequest& request, const PathParams& params) {
  json body =
      checked_body(request, "stop",
                   {{"drain", json::value_t::boolean}, {"targetDirectory", json::value_t::string}});
  bool drain = body.value("drain", false);
  std::string dir = body.value("targetDirectory", "");
  return with_job(jm, params, [&](ClusterJob& job) {
    std::string why;
    bool stopping = drain ? job.drain(why, dir) : job.stop_with_savepoint(dir, nullptr, why);
    if (!stopping) return json_error(409, why);
    return json_response(json::object(), 202);
  });
}

// Flink's savepoint trigger: 202 with the request's id, whose outcome
// GET /jobs/{job}/savepoints/{request} tells.
HttpResponse trigger_savepoint(JobManagerAccess& jm, const HttpRequest& request,
                               const PathParams& params) {
  json body = checked_body(request, "savepoint", {{"target-directory", json::value_t::string}});
  std::string dir = body.value("target-directory", "");
  return with_job(jm, params, [&](ClusterJob& job) {
    std::string why;
    uint64_t number = job.request_savepoint(dir, nullptr, why);
    if (number == 0) return json_error(409, why);
    return json_response(json{{"request-id", std::to_string(number)}}, 202);
  });
}

HttpResponse savepoint_status(JobManagerAccess& jm, const PathParams& params) {
  uint64_t number = 0;
  const std::string& text = params.at("request");
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end != text.data() + text.size() || number == 0) {
    return json_error(404, fmt::format("no savepoint request '{}'", text));
  }
  return with_job(jm, params, [&](ClusterJob& job) {
    auto outcome = job.savepoint_outcome(number);
    if (!outcome) return json_error(404, fmt::format("no savepoint request {}", number));
    json operation = json::object();
    if (!outcome->path.empty()) operation["location"] = outcome->path;
    if (!outcome->error.empty()) operation["failure-cause"] = outcome->error;
    return json_response(json{
        {"status", {{"id", outcome->done() ? "COMPLETED" : "IN_PROGRESS"}}},
        {"checkpoint", outcome->id},
        {"operation", operation},
    });
  });
}

HttpResponse trigger_checkpoint(JobManagerAccess& jm, const PathParams& params) {
  return with_job(jm, params, [](ClusterJob& job) {
    std::string why;
    int64_t id = job.trigger_checkpoint(why);
    if (id == 0) return json_error(409, why);
    return json_response(json{{"request-id", id}}, 202);
  });
}

// Flink's metric names, per subtask of every running job.
void add_task_metrics(PrometheusText& out, const ClusterJob& job) {
  const ExecutionPlan& layout = job.layout();
  for (const auto& [t, tracker] : job.task_rates()) {
    if (t >= layout.all_tasks.size()) continue;
    const PlannedTask& task = layout.all_tasks[t];
    MetricLabels labels{{"job", job.id()},
                        {"vertex", task.chain},
                        {"subtask", std::to_string(task.subtask)},
                        {"task_manager", job.task_manager_of(t)}};
    add_subtask_metrics(out, labels, tracker);
  }
}

void add_job_metrics(PrometheusText& out, const ClusterJob& job) {
  using Type = PrometheusText::Type;
  MetricLabels labels{{"job", job.id()}};
  CheckpointCounts counts = job.history().counts();
  out.add("sluice_numRestarts", "restarts of the job", Type::kCounter, labels, job.restarts());
  out.add("sluice_numberOfCompletedCheckpoints", "checkpoints completed", Type::kCounter, labels,
          static_cast<double>(counts.completed));
  out.add("sluice_numberOfFailedCheckpoints", "checkpoints failed", Type::kCounter, labels,
          static_cast<double>(counts.failed));
  out.add("sluice_numberOfInProgressCheckpoints", "checkpoints in progress", Type::kGauge, labels,
          static_cast<double>(counts.in_progress));
  if (auto last = job.history().latest(CheckpointStatus::kCompleted)) {
    out.add("sluice_lastCheckpointDuration", "trigger to completion of the last checkpoint (ms)",
            Type::kGauge, labels, static_cast<double>(last->ended_at - last->triggered_at));
    out.add("sluice_lastCheckpointSize", "bytes the last checkpoint wrote", Type::kGauge, labels,
            static_cast<double>(last->bytes_written));
    out.add("sluice_lastCheckpointFullSize", "bytes of state the last checkpoint refers to",
            Type::kGauge, labels, static_cast<double>(last->bytes_total));
  }
  out.add("sluice_jobRunning", "1 while the job runs, else 0", Type::kGauge, labels,
          job.state() == JobState::kRunning ? 1 : 0);
  out.add("sluice_numLateRecordsDropped",
          "late records dropped (no late-data output) by the current attempt", Type::kCounter,
          labels, static_cast<double>(job.late_dropped()));
  out.add("sluice_numRecordsSkipped",
          "malformed or lost records skipped by policy by the current attempt", Type::kCounter,
          labels, static_cast<double>(job.skipped_records()));
  add_task_metrics(out, job);
}

std::string content_type_of(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".json") return "application/json";
  if (ext == ".txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

}  // namespace

std::string job_manager_metrics_text(JobManagerAccess& jm) {
  using Type = PrometheusText::Type;
  PrometheusText out;
  std::vector<TaskManagerView> tms = jm.task_manager_views();
  auto [slots, free] = slot_totals(tms);
  out.add("sluice_numRegisteredTaskManagers", "task managers registered", Type::kGauge, {},
          static_cast<double>(tms.size()));
  out.add("sluice_taskSlotsTotal", "slots of the registered task managers", Type::kGauge, {},
          slots);
  out.add("sluice_taskSlotsAvailable", "slots no job holds", Type::kGauge, {}, free);
  for (const auto& [id, job] : jm.job_table()) add_job_metrics(out, *job);
  return out.str();
}

void add_job_manager_routes(RestRouter& router, JobManagerAccess& jm) {
  auto read = [&jm](auto view) {
    return [&jm, view](const HttpRequest&, const PathParams&) {
      HttpResponse response;
      jm.locked([&] { response = json_response(view()); });
      return response;
    };
  };
  router.add("GET", "/overview", read([&jm] { return overview_json(jm); }));
  router.add("GET", "/taskmanagers", read([&jm] { return task_managers_json(jm); }));
  router.add("GET", "/topologies", read([] { return topologies_json(); }));
  router.add("GET", "/jobs", read([&jm] {
               json jobs = json::array();
               for (const auto& [id, job] : jm.job_table()) jobs.push_back(job_summary_json(*job));
               return json{{"jobs", jobs}};
             }));
  auto job_view = [&jm](json (*view)(const ClusterJob&)) {
    return [&jm, view](const HttpRequest&, const PathParams& params) {
      return with_job(jm, params, [view](ClusterJob& job) { return json_response(view(job)); });
    };
  };
  router.add("GET", "/jobs/{job}", job_view(job_detail_json));
  router.add("GET", "/jobs/{job}/checkpoints", job_view(checkpoints_json));
  router.add("GET", "/jobs/{job}/exceptions", job_view(exceptions_json));
  router.add("GET", "/jobs/{job}/batches", job_view(batches_json));
  router.add("GET", "/jobs/{job}/vertices/{vertex}",
             [&jm](const HttpRequest&, const PathParams& p) {
               return with_job(jm, p, [&](ClusterJob& job) {
                 std::optional<json> vertex = vertex_json(job, p.at("vertex"));
                 if (!vertex) {
                   return json_error(
                       404, fmt::format("job {} has no vertex '{}'", job.id(), p.at("vertex")));
                 }
                 return json_response(*vertex);
               });
             });
  router.add("POST", "/jobs",
             [&jm](const HttpRequest& r, const PathParams&) { return submit(jm, r); });
  router.add("POST", "/jobs/{job}/cancel",
             [&jm](const HttpRequest& r, const PathParams& p) { return cancel(jm, r, p); });
  router.add("PATCH", "/jobs/{job}",
             [&jm](const HttpRequest& r, const PathParams& p) { return cancel(jm, r, p); });
  router.add("POST", "/jobs/{job}/stop",
             [&jm](const HttpRequest& r, const PathParams& p) { return stop(jm, r, p); });
  router.add("POST", "/jobs/{job}/savepoints", [&jm](const HttpRequest& r, const PathParams& p) {
    return trigger_savepoint(jm, r, p);
  });
  router.add("GET", "/jobs/{job}/savepoints/{request}",
             [&jm](const HttpRequest&, const PathParams& p) { return savepoint_status(jm, p); });
  router.add("POST", "/jobs/{job}/checkpoints",
             [&jm](const HttpRequest&, const PathParams& p) { return trigger_checkpoint(jm, p); });
  router.add("GET", "/metrics", [&jm](const HttpRequest&, const PathParams&) {
    HttpResponse response;
    response.content_type = kPrometheusContentType;
    jm.locked([&] { response.body = job_manager_metrics_text(jm); });
    return response;
  });
}

WebAssets WebAssets::load(const std::string& dir) {
  WebAssets assets;
  std::error_code ec;
  if (dir.empty() || !fs::is_directory(dir, ec)) return assets;
  for (const auto& entry : fs::recursive_directory_iterator(dir, ec)) {
    if (!entry.is_regular_file()) continue;
    std::string relative = fs::relative(entry.path(), dir).generic_string();
    HttpResponse file;
    file.content_type = content_type_of(relative);
    file.body = file_io::read_whole_file(entry.path().string(), "dashboard");
    assets.files_["/" + relative] = std::move(file);
  }
  if (auto index = assets.files_.find("/index.html"); index != assets.files_.end()) {
    assets.files_["/"] = index->second;
  }
  return assets;
}

std::string WebAssets::default_dir() {
  std::error_code ec;
  fs::path program = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  for (const fs::path& candidate :
       {program.parent_path() / "web", program.parent_path().parent_path() / "share/sluice/web"}) {
    if (fs::exists(candidate / "index.html", ec)) return candidate.string();
  }
  return "";
}

const HttpResponse* WebAssets::find(const std::string& path) const {
  auto it = files_.find(path);
  return it == files_.end() ? nullptr : &it->second;
}

void add_dashboard_routes(RestRouter& router, std::shared_ptr<const WebAssets> assets) {
  auto serve = [assets](const HttpRequest& request, const PathParams&) {
    if (const HttpResponse* file = assets->find(request.path)) return *file;
    if (assets->empty()) {
      return json_error(404,
                        "the dashboard's files are not installed next to this program "
                        "(web/, or ../share/sluice/web; see --web-dir)");
    }
    return json_error(404, fmt::format("no resource at {}", request.path));
  };
  router.add("GET", "/", serve);
  router.add("GET", "/{file}", serve);
  router.add("GET", "/{dir}/{file}", serve);
}

}  // namespace sluice
