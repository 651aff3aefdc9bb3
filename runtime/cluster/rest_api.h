// The job manager's REST API (docs/rest.md): the routes that read the
// cluster, its jobs, their graphs, metrics, checkpoints, exceptions and
// batches, that submit, cancel and checkpoint jobs, the Prometheus
// endpoint, and the dashboard's files. Paths follow Flink's REST API.
//
// Threading: routes run on the HTTP server's thread and do their work
// inside JobManagerAccess::locked(), under the job manager's lock.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/cluster/cluster.pb.h"
#include "runtime/rest/router.h"

namespace sluice {

class ClusterJob;

struct TaskManagerView {
  std::string id;
  std::string host;
  int data_port = 0;
  int metrics_port = 0;
  int slots = 0;
  int free_slots = 0;
  int64_t heartbeat_age_ms = 0;
  uint64_t rss_bytes = 0;
};

// What the REST API needs from the job manager.
class JobManagerAccess {
 public:
  virtual ~JobManagerAccess() = default;
  // Runs `fn` under the job manager's lock; the rest is called only there.
  virtual void locked(const std::function<void()>& fn) = 0;
  virtual std::vector<TaskManagerView> task_manager_views() const = 0;
  virtual const std::map<std::string, std::unique_ptr<ClusterJob>>& job_table() const = 0;
  // Accepts a job as `sluice submit` does; returns its id. Throws
  // UsageError (or another SluiceError) saying why it was refused.
  virtual std::string submit_job(const pb::SubmitJob& submit, const std::string& from) = 0;
};

// The files the dashboard needs, read once from a directory (index.html,
// scripts, styles, vendor/...). Empty when the directory has none.
class WebAssets {
 public:
  // Reads every file under `dir`; throws ExternalError when a file there
  // cannot be read.
  static WebAssets load(const std::string& dir);
  // The directory of the dashboard's files next to the running program
  // (its `web/`, or `../share/sluice/web` when installed), or "".
  static std::string default_dir();

  bool empty() const { return files_.empty(); }
  // The answer to GET `path` ("/" is index.html), or null.
  const HttpResponse* find(const std::string& path) const;

 private:
  std::map<std::string, HttpResponse> files_;  // by path, like "/vendor/uPlot.min.css"
};

void add_job_manager_routes(RestRouter& router, JobManagerAccess& job_manager);
void add_dashboard_routes(RestRouter& router, std::shared_ptr<const WebAssets> assets);
// The job manager's metrics in the Prometheus text format (under the lock).
std::string job_manager_metrics_text(JobManagerAccess& job_manager);

}  // namespace sluice
