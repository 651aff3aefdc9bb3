// The job manager (design section 11): accepts jobs from clients, keeps the
// registry of task managers and their slots, places each job's slots across
// them, runs every job's checkpoint coordinator, and restarts a job from
// its latest complete checkpoint when a task fails or a task manager is
// lost (its connection closes, or no heartbeat arrives within the timeout)
// and enough slots are free again. Jobs are recorded in checkpoint storage
// (`<checkpoint-dir>/<job>/_job`); a job manager that starts and finds a
// job there that has not ended resumes it.
//
// Threading: run() blocks its caller, which ticks jobs (deployments,
// checkpoint triggers, heartbeat timeouts); messages are handled on the RPC
// thread. Both work under one lock. Lifecycle: construct (listens, reads
// stored jobs) -> run(stop) -> destroy (closes every connection).
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
};

class JobManager {
 public:
  // Throws ExternalError when it cannot listen.
  explicit JobManager(JobManagerOptions options);
  ~JobManager();
  JobManager(const JobManager&) = delete;
  JobManager& operator=(const JobManager&) = delete;

  uint16_t port() const;
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
