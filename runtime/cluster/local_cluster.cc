#include "runtime/cluster/local_cluster.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "runtime/cluster/job_manager.h"
#include "runtime/cluster/task_manager.h"
#include "runtime/cluster/validate.h"

namespace sluice {
namespace {

using SteadyClock = std::chrono::steady_clock;

// The client's end: messages from the job manager, in order.
struct Inbox {
  std::mutex mutex;
  std::condition_variable arrived;
  std::deque<pb::Envelope> messages;
  std::optional<std::string> closed;  // why the link closed

  RpcHandlers handlers() {
    RpcHandlers h;
    h.on_message = [this](const std::shared_ptr<ControlConnection>&, pb::Envelope&& e) {
      std::lock_guard lock(mutex);
      messages.push_back(std::move(e));
      arrived.notify_all();
    };
    h.on_close = [this](const std::shared_ptr<ControlConnection>&, const std::string& reason) {
      std::lock_guard lock(mutex);
      closed = reason;
      arrived.notify_all();
    };
    return h;
  }

  // The next message, or nothing after `max_wait`. Throws once the link
  // closed and every message before that was taken.
  std::optional<pb::Envelope> next(std::chrono::milliseconds max_wait) {
    std::unique_lock lock(mutex);
    arrived.wait_for(lock, max_wait, [this] { return !messages.empty() || closed; });
    if (messages.empty()) {
      if (closed)
        throw SluiceError(ErrorKind::kInternal, "the local job manager closed: " + *closed);
      return std::nullopt;
    }
    pb::Envelope e = std::move(messages.front());
    messages.pop_front();
    return e;
  }
};

// A job manager and a task manager serving on their threads until stopped.
class EmbeddedCluster {
 public:
  EmbeddedCluster(int slots, int rest_port)
      : jobmanager_(jobmanager_options(rest_port)), taskmanager_(taskmanager_options(slots)) {
    jobmanager_thread_ = std::thread([this] { jobmanager_.run(stop_); });
    taskmanager_thread_ = std::thread([this] { taskmanager_.run(stop_); });
  }
  ~EmbeddedCluster() {
    stop_.store(true);
    taskmanager_.wake();
    jobmanager_.wake();
    taskmanager_thread_.join();
    jobmanager_thread_.join();
  }

  JobManager& jobmanager() { return jobmanager_; }
  TaskManager& taskmanager() { return taskmanager_; }

 private:
  // No heartbeat timeout: in one process a task manager cannot be cut off,
  // and a process stopped for a while (Ctrl-Z) must not lose its job.
  static JobManagerOptions jobmanager_options(int rest_port) {
    JobManagerOptions options;
    options.listen = false;
    options.record_jobs = false;
    options.heartbeat_timeout = 0;
    options.rest_port = rest_port;
    return options;
  }
  TaskManagerOptions taskmanager_options(int slots) {
    TaskManagerOptions options;
    options.id = "local";
    options.slots = slots;
    options.bind_host = "127.0.0.1";  // every slot is local: no peer ever connects
    options.connect = [this](IoThread& io, RpcHandlers handlers) {
      return jobmanager_.connect_in_process(io, std::move(handlers), "task manager local");
    };
    return options;
  }

  std::atomic<bool> stop_{false};
  JobManager jobmanager_;
  TaskManager taskmanager_;
  std::thread jobmanager_thread_;
  std::thread taskmanager_thread_;
};

JobResult result_of(const pb::JobStatus& status, const JobMetrics* metrics) {
  JobResult result;
  result.succeeded = status.state() == "finished";
  result.cancelled = status.state() == "cancelled";
  if (status.state() == "failed") {
    result.failure = JobFailure{static_cast<ErrorKind>(status.error_kind()), status.message()};
  }
  result.checkpoints_completed = static_cast<size_t>(status.checkpoints_completed());
  result.last_checkpoint_id = status.last_checkpoint();
  result.savepoint = status.savepoint();
  if (metrics != nullptr) {
    result.records_in = metrics->records_in.value();
    result.records_out = metrics->records_out.value();
    result.late_dropped = metrics->late_dropped.value();
    result.skipped_records = metrics->skipped_records.value();
    result.async_timeouts = metrics->async_timeouts.value();
    result.async_failures = metrics->async_failures.value();
    result.notes = metrics->notes();
  }
  return result;
}

}  // namespace

LocalClusterResult run_on_local_cluster(const LocalClusterJob& job) {
  auto start = SteadyClock::now();
  if (job.slots > kMaxSlotsPerTaskManager) {
    throw UsageError(fmt::format("the job needs {} slots; one process runs at most {}", job.slots,
                                 kMaxSlotsPerTaskManager));
  }
  Inbox inbox;  // before the io thread that fills it, so it outlives it
  EmbeddedCluster cluster(job.slots, job.rest_port);
  if (uint16_t port = cluster.jobmanager().rest_port(); port != 0) {
    fmt::print(stderr, "dashboard and REST API at http://127.0.0.1:{}/\n", port);
  }
  IoThread io;
  std::shared_ptr<ControlConnection> client =
      cluster.jobmanager().connect_in_process(io, inbox.handlers(), "sluice run");
  pb::Envelope request;
  *request.mutable_submit_job()->mutable_spec() = job.spec;
  request.mutable_submit_job()->set_wait(true);
  request.mutable_submit_job()->set_name(job.name);
  try {
    validate_envelope(request);  // as the job manager will
  } catch (const InputError& e) {
    throw UsageError(std::string("the job's options cannot be sent: ") + e.what());
  }
  client->send(request);

  ProgressReporter reporter(job.on_progress, job.progress_interval, start);
  bool cancel_sent = false;
  bool stop_sent = false;
  bool stops = job.on_signal != SignalAction::kCancel;
  std::optional<pb::JobStatus> status;
  while (!status) {
    std::optional<pb::Envelope> message =
        inbox.next(std::chrono::milliseconds(job.on_progress ? job.progress_interval : 100));
    if (message && message->has_submit_reply() && !message->submit_reply().error().empty()) {
      client->close();
      throw UsageError(message->submit_reply().error());
    }
    if (message && message->has_job_status()) status = message->job_status();
    bool stop_refused = message && message->has_error_reply();
    if (stop_refused) {
      fmt::print(stderr, "sluice: cannot stop the job ({}); cancelling it\n",
                 message->error_reply().message());
    }
    int signals = job.signals != nullptr ? job.signals->load() : 0;
    if (signals == 1 && stops && !stop_sent) {
      bool drain = job.on_signal == SignalAction::kDrain;
      fmt::print(stderr, "{} (a second signal cancels it)\n",
                 drain ? "draining the job: its sources end now"
                       : "stopping the job: its sources stop and a savepoint keeps its state");
      pb::Envelope stop;
      stop.mutable_stop_job()->set_job(job.name);
      stop.mutable_stop_job()->set_drain(drain);
      client->send(stop);
      stop_sent = true;
    }
    bool cancel = stop_refused || (signals >= 1 && !stops) || signals >= 2;
    if (cancel && !cancel_sent) {
      pb::Envelope request;
      request.mutable_cancel_job()->set_job(job.name);
      client->send(request);
      cancel_sent = true;
    }
    if (auto metrics = cluster.taskmanager().metrics_of(job.name)) reporter.report(*metrics, 0);
  }
  client->close();
  std::shared_ptr<const JobMetrics> metrics = cluster.taskmanager().metrics_of(job.name);
  if (metrics)
    reporter.report(*metrics, static_cast<size_t>(status->checkpoints_completed()), true);
  LocalClusterResult result;
  result.job = result_of(*status, metrics.get());
  result.job.wall_seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  result.restarts = status->restarts();
  return result;
}

}  // namespace sluice
