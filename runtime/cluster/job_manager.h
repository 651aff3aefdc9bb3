// The job manager (design section 11): accepts jobs from clients, keeps the
// registry of task managers and their slots, places each job's slots across
// them, runs every job's checkpoint coordinator, and restarts a job from
// its latest complete checkpoint when a task fails or a task manager is
// lost (its connection closes, or no heartbeat arrives within the timeout)
// and enough slots are free again. Jobs are recorded in checkpoint storage
// (`<checkpoint-dir>/<job>/_job`); a job manager that starts and finds a
// job there that has not ended resumes it.
//
// With a REST port, it also serves the REST API, the dashboard and
// Prometheus metrics (runtime/cluster/rest_api.h).
//
// Threading: run() blocks its caller, which ticks jobs (deployments,
// checkpoint triggers, heartbeat timeouts); messages are handled on the RPC
// thread, HTTP requests on the HTTP server's. All work under one lock. Lifecycle: construct
// (listens, reads stored jobs) -> run(stop) -> destroy (closes every connection).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "runtime/cluster/rpc.h"
#include "runtime/core/time.h"

namespace sluice {

struct JobManagerOptions {
  bool listen = true;  // false: in-process connections only (the local cluster)
  std::string bind_host = "0.0.0.0";
  uint16_t port = 0;           // 0: any free port
  std::string checkpoint_dir;  // default checkpoint storage and the job records
  bool record_jobs = true;     // write `_job` records (and resume them)
  DurationMs heartbeat_interval = 1000;
  DurationMs heartbeat_timeout = 10000;
  // The REST API, the dashboard and /metrics (docs/rest.md).
  int rest_port = -1;           // -1: off, 0: any free port
  bool rest_port_given = true;  // false: a port in use leaves the REST API off, with a warning
  std::string rest_bind = "127.0.0.1";
  std::string rest_token;  // empty: changes need no token
  std::string web_dir;     // the dashboard's files; empty: next to the program
};

class JobManager {
 public:
  // Throws ExternalError when it cannot listen.
  explicit JobManager(JobManagerOptions options);
  ~JobManager();
  JobManager(const JobManager&) = delete;
  JobManager& operator=(const JobManager&) = delete;

  uint16_t port() const;
  // The REST API's port (0 when it is off).
  uint16_t rest_port() const;
  // A connection from this process (the local cluster's transport): the
  // caller's end, whose handlers run on `io`; the job manager serves the
  // other end as it serves a socket.
  std::shared_ptr<ControlConnection> connect_in_process(IoThread& io, RpcHandlers handlers,
                                                        const std::string& name);
  // Serves until `stop` becomes true; returns the exit code.
  int run(const std::atomic<bool>& stop);
  // Makes run() look at `stop` now. Thread-safe.
  void wake();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice
