// A task manager (design section 11): registers its slots with the job
// manager, runs the tasks deployed to it, and serves the data plane to the
// other task managers.
//
// Each deployment becomes an attempt: the job's graph built from its
// topology and options, the execution plan restricted to this task
// manager's slots (channels to other task managers go through the data
// plane), one thread per task, and a snapshot writer that stores the
// attempt's checkpoints and acknowledges them to the job manager. When the
// connection to the job manager is lost, every attempt is cancelled (its
// coordinator is gone) and the task manager registers again as soon as it
// can reach a job manager.
//
// Threading: run() blocks its caller, which handles deployments,
// cancellations and heartbeats. Messages arrive on the RPC thread; checkpoint
// mails go straight to the tasks' mailboxes, everything else is queued for
// run(). Task threads send task status and the writer thread checkpoint
// acknowledgements on the connection directly (sends are thread-safe).
// Lifecycle: construct (binds the data port) -> run(stop) -> destroy.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "runtime/cluster/rpc.h"
#include "runtime/core/time.h"
#include "runtime/metrics/metrics.h"

namespace sluice {

struct TaskManagerOptions {
  std::string jobmanager_host;
  uint16_t jobmanager_port = 0;
  int slots = 1;
  std::string id;  // default: HOST:DATA_PORT
  // Where other task managers reach this one (advertised to the job
  // manager), and the address its data port listens on: like Kafka's
  // advertised listeners and listeners, they differ in containers, where
  // the advertised name resolves to an address the container binds.
  std::string data_host = "127.0.0.1";
  std::string bind_host = "0.0.0.0";  // every interface
  uint16_t data_port = 0;             // 0: any free port
  DurationMs reconnect_delay = 500;   // between attempts to reach the job manager
  // Its own Prometheus endpoint, GET /metrics (docs/rest.md).
  int metrics_port = -1;  // -1: off, 0: any free port
  std::string metrics_bind = "127.0.0.1";
  // How to reach the job manager; default: TCP to jobmanager_host:port. The
  // local cluster connects in process.
  std::function<std::shared_ptr<ControlConnection>(IoThread&, RpcHandlers)> connect;
};

class TaskManager {
 public:
  explicit TaskManager(TaskManagerOptions options);
  ~TaskManager();
  TaskManager(const TaskManager&) = delete;
  TaskManager& operator=(const TaskManager&) = delete;

  const std::string& id() const;
  uint16_t data_port() const;
  // The Prometheus endpoint's port (0 when it is off).
  uint16_t metrics_port() const;
  // The metrics of the newest attempt of `job` deployed here (null if none);
  // they stay readable after the attempt ended.
  std::shared_ptr<const JobMetrics> metrics_of(const std::string& job) const;
  // Serves until `stop` becomes true; returns the exit code.
  int run(const std::atomic<bool>& stop);
  // Makes run() look at `stop` now. Thread-safe.
  void wake();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice
