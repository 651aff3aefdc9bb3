#include "runtime/cluster/task_manager.h"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>

#include <fmt/format.h>

#include "runtime/cluster/data_plane.h"
#include "runtime/cluster/deployed_attempt.h"
#include "runtime/cluster/rpc.h"
#include "runtime/core/logging.h"
#include "runtime/metrics/prometheus.h"
#include "runtime/metrics/task_rates.h"
#include "runtime/rest/http_server.h"

namespace sluice {
namespace {

constexpr std::chrono::milliseconds kConnectTimeout{2000};

using AttemptKey = std::pair<std::string, int>;
using TaskKey = std::tuple<std::string, int, int>;  // job, attempt, task

// The process's resident memory, from /proc (0 where it cannot be read).
uint64_t resident_bytes() {
  std::FILE* statm = std::fopen("/proc/self/statm", "r");
  if (statm == nullptr) return 0;
  unsigned long long pages = 0;
  unsigned long long resident = 0;
  int read = std::fscanf(statm, "%llu %llu", &pages, &resident);
  std::fclose(statm);
  return read == 2 ? resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

}  // namespace

class TaskManager::Impl {
 public:
  explicit Impl(TaskManagerOptions options)
      : options_(std::move(options)),
        id_(options_.id.empty() ? fmt::format("{}-{}", options_.data_host, getpid()) : options_.id),
        data_(id_, options_.bind_host, options_.data_port,
              [this](const std::string& peer, const std::string& reason) {
                on_peer_lost(peer, reason);
              }) {
    if (options_.metrics_port >= 0) start_metrics_server();
  }

  ~Impl() {
    metrics_server_.reset();  // its handler uses this
    cancel_all_attempts();
    std::shared_ptr<ControlConnection> connection;
    {
      std::lock_guard lock(mutex_);
      connection.swap(connection_);  // a close of our own is not a lost job manager
    }
    if (connection) connection->close();
    io_.stop();
    data_.stop();
  }

  const std::string& id() const { return id_; }
  uint16_t data_port() const { return data_.port(); }
  uint16_t metrics_port() const { return metrics_server_ ? metrics_server_->port() : 0; }

  void wake() {
    {
      std::lock_guard lock(mutex_);
      woken_ = true;
      work_.notify_one();
    }
    heartbeat_wake_.notify_all();
  }

  std::shared_ptr<const JobMetrics> metrics_of(const std::string& job) {
    std::lock_guard lock(mutex_);
    auto it = metrics_.find(job);
    return it == metrics_.end() ? nullptr : it->second;
  }

  int run(const std::atomic<bool>& stop) {
    log::cluster()->info("task manager {} with {} slots, data port {}", id_, options_.slots,
                         data_.port());
    // Heartbeats have a thread of their own: deploying (a large restore)
    // or cancelling may hold up the main loop longer than the timeout.
    std::thread heartbeats([this, &stop] { send_heartbeats(stop); });
    while (!stop.load()) {
      handle_queued();  // first: a lost job manager cancels every attempt
      finish_done_attempts();
      if (!current_connection() && !connect()) {
        wait_for_work(std::chrono::milliseconds(options_.reconnect_delay));
        continue;
      }
      wait_for_work(std::chrono::milliseconds(50));
    }
    heartbeat_wake_.notify_all();
    heartbeats.join();
    cancel_all_attempts();
    return 0;
  }

 private:
  std::shared_ptr<ControlConnection> current_connection() {
    std::lock_guard lock(mutex_);
    return connection_;
  }

  bool connect() {
    RpcHandlers handlers;
    handlers.on_message = [this](const std::shared_ptr<ControlConnection>& c, pb::Envelope&& e) {
      on_message(c, std::move(e));
    };
    handlers.on_close = [this](const std::shared_ptr<ControlConnection>& c,
                               const std::string& reason) { on_close(c, reason); };
    std::shared_ptr<ControlConnection> connection;
    try {
      connection = options_.connect
                       ? options_.connect(io_, handlers)
                       : rpc_connect(io_, options_.jobmanager_host, options_.jobmanager_port,
                                     handlers, kConnectTimeout);
    } catch (const SluiceError& e) {
      if (!unreachable_logged_) log::cluster()->warn("{}; retrying", e.what());
      unreachable_logged_ = true;
      return false;
    }
    unreachable_logged_ = false;
    {
      std::lock_guard lock(mutex_);
      // It may have closed before it was ours; then on_close ignored it.
      if (connection->closed()) return false;
      connection_ = connection;
      last_heard_ = std::chrono::steady_clock::now();
    }
    pb::Envelope envelope;
    pb::RegisterTaskManager& reg = *envelope.mutable_register_task_manager();
    reg.set_id(id_);
    reg.set_host(options_.data_host);
    reg.set_data_port(data_.port());
    reg.set_slots(options_.slots);
    reg.set_metrics_port(metrics_port());
    connection->send(envelope);
    log::cluster()->info("task manager {} registering with the job manager at {}:{}", id_,
                         options_.jobmanager_host, options_.jobmanager_port);
    return true;
  }

  std::chrono::milliseconds heartbeat_interval() {
    std::lock_guard lock(mutex_);
    return std::chrono::milliseconds(heartbeat_ms_);
  }

  void send_heartbeats(const std::atomic<bool>& stop) {
    std::unique_lock lock(heartbeat_mutex_);
    while (!stop.load()) {
      send(heartbeat());
      if (std::shared_ptr<ControlConnection> silent = silent_connection()) {
        log::cluster()->warn(
            "task manager {}: nothing from the job manager for {} ms; giving up on it", id_,
            silence_limit());
        give_up(silent);
      }
      heartbeat_wake_.wait_for(lock, heartbeat_interval(), [&stop] { return stop.load(); });
    }
  }

  // With the minimum watermark of each attempt's aligned sources here, and
  // the counters of every task here.
  pb::Envelope heartbeat() {
    pb::Envelope envelope;
    pb::Heartbeat& beat = *envelope.mutable_heartbeat();
    beat.set_id(id_);
    beat.set_rss_bytes(resident_bytes());
    std::lock_guard lock(mutex_);
    for (const auto& [key, attempt] : attempts_) attempt->report_task_metrics(beat);
    track_task_rates(beat);
    for (const auto& [key, attempt] : attempts_) {
      WatermarkAlignmentGroup* group = attempt->watermark_alignment();
      if (group == nullptr) continue;
      std::optional<Timestamp> minimum = group->local_minimum();
      pb::SourceWatermark* mine = envelope.mutable_heartbeat()->add_source_watermarks();
      mine->set_job(key.first);
      mine->set_attempt(key.second);
      mine->set_holds(minimum.has_value());
      mine->set_watermark(minimum.value_or(0));
    }
    return envelope;
  }

  // The rates this task manager's /metrics shows, from the heartbeat's counters.
  void track_task_rates(const pb::Heartbeat& beat) {
    auto now = TaskRateTracker::Clock::now();
    std::map<TaskKey, TaskRateTracker> kept;
    for (const pb::TaskMetrics& m : beat.tasks()) {
      TaskKey key{m.job(), m.attempt(), m.task()};
      TaskRateTracker& tracker = kept[key];
      if (auto it = task_rates_.find(key); it != task_rates_.end()) tracker = it->second;
      tracker.update(TaskReading{m.records_in(), m.records_out(), m.idle_us(), m.backpressured_us(),
                                 m.has_watermark() ? std::optional<Timestamp>(m.input_watermark())
                                                   : std::nullopt},
                     now);
    }
    task_rates_.swap(kept);
  }

  void start_metrics_server() {
    HttpServerOptions http;
    http.bind_host = options_.metrics_bind;
    http.port = static_cast<uint16_t>(options_.metrics_port);
    metrics_server_.emplace(http, [this](const HttpRequest& request) {
      if (request.path != "/metrics") {
        return json_error(404, "a task manager serves GET /metrics only");
      }
      if (request.method != "GET" && request.method != "HEAD") {
        HttpResponse refused = json_error(405, "/metrics takes GET");
        refused.headers.emplace_back("Allow", "GET");
        return refused;
      }
      HttpResponse response;
      response.content_type = kPrometheusContentType;
      response.body = metrics_text();
      return response;
    });
    log::cluster()->info("task manager {}: metrics at http://{}:{}/metrics", id_,
                         options_.metrics_bind, metrics_server_->port());
  }

  std::string metrics_text() {
    PrometheusText out;
    std::lock_guard lock(mutex_);
    for (const auto& [key, tracker] : task_rates_) {
      const auto& [job, attempt_number, task] = key;
      auto it = attempts_.find(AttemptKey{job, attempt_number});
      if (it == attempts_.end()) continue;
      const PlannedTask& planned = it->second->planned_task(static_cast<size_t>(task));
      add_subtask_metrics(out,
                          MetricLabels{{"job", job},
                                       {"vertex", planned.chain},
                                       {"subtask", std::to_string(planned.subtask)},
                                       {"task_manager", id_}},
                          tracker);
    }
    for (const auto& [key, attempt] : attempts_) {
      out.add_all(attempt->metrics()->registry.collect(), "sluice_",
                  MetricLabels{{"job", key.first}, {"task_manager", id_}});
    }
    return out.str();
  }

  // The job manager's answer: the other task managers' minima.
  void align_sources(const pb::Heartbeat& answer) {
    for (const pb::SourceWatermark& theirs : answer.source_watermarks()) {
      auto it = attempts_.find(AttemptKey{theirs.job(), theirs.attempt()});
      if (it == attempts_.end()) continue;
      if (WatermarkAlignmentGroup* group = it->second->watermark_alignment()) {
        group->set_remote_minimum(theirs.holds() ? std::optional<Timestamp>(theirs.watermark())
                                                 : std::nullopt);
      }
    }
  }

  // Stops every attempt first, then closes: the job manager must not see
  // the connection end while tasks here still run.
  void give_up(const std::shared_ptr<ControlConnection>& connection) {
    {
      std::lock_guard lock(mutex_);
      if (connection_ != connection) return;
      connection_.reset();
      lost_job_manager_ = true;
      queue_.clear();
    }
    cancel_all_attempts();
    connection->close();
  }

  // The connection, when the job manager has not been heard from for its
  // heartbeat timeout: it has given this task manager up by then, so the
  // tasks must stop rather than run beside their replacements.
  std::shared_ptr<ControlConnection> silent_connection() {
    std::lock_guard lock(mutex_);
    if (!connection_ || silence_limit_ms_ <= 0) return nullptr;
    auto silence = std::chrono::steady_clock::now() - last_heard_;
    return silence > std::chrono::milliseconds(silence_limit_ms_) ? connection_ : nullptr;
  }

  int64_t silence_limit() {
    std::lock_guard lock(mutex_);
    return silence_limit_ms_;
  }

  void send(const pb::Envelope& envelope) {
    if (auto connection = current_connection()) connection->send(envelope);
  }

  // RPC thread: checkpoint mails go to the tasks at once; the rest waits
  // for the main thread.
  void on_message(const std::shared_ptr<ControlConnection>&, pb::Envelope&& envelope) {
    std::lock_guard lock(mutex_);
    last_heard_ = std::chrono::steady_clock::now();
    if (envelope.has_heartbeat()) {
      align_sources(envelope.heartbeat());
      return;
    }
    if (envelope.has_checkpoint_mail()) {
      const pb::CheckpointMail& mail = envelope.checkpoint_mail();
      auto it = attempts_.find(AttemptKey{mail.job(), mail.attempt()});
      if (it != attempts_.end()) it->second->post_mail(mail.task(), mail);
      return;
    }
    if (envelope.has_registered()) {
      heartbeat_ms_ = envelope.registered().heartbeat_interval_ms();
      silence_limit_ms_ = envelope.registered().heartbeat_timeout_ms();
      return;
    }
    queue_.push_back(std::move(envelope));
    work_.notify_one();
  }

  void on_close(const std::shared_ptr<ControlConnection>& connection, const std::string& reason) {
    std::lock_guard lock(mutex_);
    if (connection_ != connection) return;
    connection_.reset();
    lost_job_manager_ = true;
    queue_.clear();  // a deployment from a job manager that is gone must not start
    log::cluster()->warn("task manager {}: lost the job manager ({})", id_, reason);
    work_.notify_one();
  }

  void on_peer_lost(const std::string& peer, const std::string& reason) {
    std::lock_guard lock(mutex_);
    for (auto& [key, attempt] : attempts_) {
      attempt->fail_if_peer(peer,
                            "lost the data connection to task manager " + peer + ": " + reason);
    }
  }

  void wait_for_work(std::chrono::milliseconds max_wait) {
    std::unique_lock lock(mutex_);
    work_.wait_for(lock, max_wait, [this] {
      return !queue_.empty() || lost_job_manager_ || attempt_ended_ || woken_;
    });
    attempt_ended_ = false;
    woken_ = false;
  }

  void handle_queued() {
    bool lost = false;
    std::deque<pb::Envelope> messages;
    {
      std::lock_guard lock(mutex_);
      messages.swap(queue_);
      lost = lost_job_manager_;
      lost_job_manager_ = false;
    }
    if (lost) cancel_all_attempts();
    for (pb::Envelope& envelope : messages) {
      if (envelope.has_deploy_tasks()) deploy(envelope.deploy_tasks());
      if (envelope.has_cancel_tasks()) cancel(envelope.cancel_tasks());
      if (envelope.has_error_reply()) {
        log::cluster()->error("task manager {}: the job manager refused: {}", id_,
                              envelope.error_reply().message());
      }
    }
  }

  void deploy(const pb::DeployTasks& deploy) {
    log::cluster()->info("task manager {}: deploying job {} attempt {}", id_, deploy.job(),
                         deploy.attempt());
    if (running(AttemptKey{deploy.job(), deploy.attempt()})) {
      log::cluster()->warn("task manager {}: job {} attempt {} runs already", id_, deploy.job(),
                           deploy.attempt());
      return;
    }
    std::unique_ptr<DeployedAttempt> attempt;
    try {
      data_.connect_peers(peers_of(deploy));
      attempt = std::make_unique<DeployedAttempt>(deploy, id_, data_,
                                                  [this](const pb::Envelope& e) { send(e); });
    } catch (const SluiceError& e) {
      report_deploy_failure(deploy, e.kind(), e.what());
      return;
    } catch (const std::exception& e) {
      report_deploy_failure(deploy, ErrorKind::kInternal, e.what());
      return;
    }
    DeployedAttempt* raw = attempt.get();
    {
      std::lock_guard lock(mutex_);
      metrics_[deploy.job()] = attempt->metrics();
      attempts_[AttemptKey{deploy.job(), deploy.attempt()}] = std::move(attempt);
    }
    // A data connection lost while the attempt was being built was reported
    // before the attempt could hear of it.
    for (const pb::Peer& peer : deploy.peers()) {
      if (peer.id() != id_ && !data_.wait_connected(peer.id(), kConnectTimeout * 5)) {
        raw->fail_if_peer(peer.id(), "no data connection to task manager " + peer.id());
      }
    }
    try {
      raw->start([this] {
        std::lock_guard lock(mutex_);
        attempt_ended_ = true;
        work_.notify_one();
      });
    } catch (const std::exception& e) {  // such as no threads to be had
      raw->fail_if_peer(id_, std::string("cannot start the tasks: ") + e.what());
    }
  }

  bool running(const AttemptKey& key) {
    std::lock_guard lock(mutex_);
    return attempts_.count(key) > 0;
  }

  static std::vector<DataPeer> peers_of(const pb::DeployTasks& deploy) {
    std::vector<DataPeer> peers;
    for (const pb::Peer& p : deploy.peers()) {
      peers.push_back(DataPeer{p.id(), p.host(), static_cast<uint16_t>(p.data_port())});
    }
    return peers;
  }

  void report_deploy_failure(const pb::DeployTasks& deploy, ErrorKind kind,
                             const std::string& message) {
    log::cluster()->error("task manager {}: job {} attempt {} cannot start: {}", id_, deploy.job(),
                          deploy.attempt(), message);
    pb::Envelope envelope;
    pb::TaskStatus& status = *envelope.mutable_task_status();
    status.set_job(deploy.job());
    status.set_attempt(deploy.attempt());
    status.set_state(pb::TASK_FAILED);
    status.set_message(message);
    status.set_error_kind(static_cast<int32_t>(kind));
    send(envelope);
  }

  void cancel(const pb::CancelTasks& cancel) {
    std::unique_ptr<DeployedAttempt> attempt =
        take_attempt(AttemptKey{cancel.job(), cancel.attempt()});
    if (attempt) {
      auto started = std::chrono::steady_clock::now();
      attempt->stop();
      log::cluster()->info("task manager {}: cancelled job {} attempt {}; its tasks ended in {} ms",
                           id_, cancel.job(), cancel.attempt(),
                           std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now() - started)
                               .count());
    }
    pb::Envelope envelope;
    pb::TaskStatus& status = *envelope.mutable_task_status();
    status.set_job(cancel.job());
    status.set_attempt(cancel.attempt());
    status.set_state(pb::TASK_CANCELLED);
    send(envelope);
  }

  std::unique_ptr<DeployedAttempt> take_attempt(const AttemptKey& key) {
    std::lock_guard lock(mutex_);
    auto it = attempts_.find(key);
    if (it == attempts_.end()) return nullptr;
    std::unique_ptr<DeployedAttempt> attempt = std::move(it->second);
    attempts_.erase(it);
    return attempt;
  }

  void finish_done_attempts() {
    std::vector<AttemptKey> done;
    {
      std::lock_guard lock(mutex_);
      for (auto& [key, attempt] : attempts_) {
        if (attempt->can_end()) done.push_back(key);
      }
    }
    for (const AttemptKey& key : done) {
      std::unique_ptr<DeployedAttempt> attempt = take_attempt(key);
      if (!attempt) continue;
      attempt->stop();
      attempt->report_outcome();
    }
  }

  void cancel_all_attempts() {
    std::map<AttemptKey, std::unique_ptr<DeployedAttempt>> attempts;
    {
      std::lock_guard lock(mutex_);
      attempts.swap(attempts_);
    }
    for (auto& [key, attempt] : attempts) {
      if (!attempt->done()) {
        log::cluster()->warn("task manager {}: cancelling job {} attempt {}", id_, key.first,
                             key.second);
      }
      attempt->stop();
    }
  }

  TaskManagerOptions options_;
  std::string id_;
  IoThread io_;
  DataPlane data_;
  bool unreachable_logged_ = false;

  std::mutex mutex_;
  std::condition_variable work_;
  std::shared_ptr<ControlConnection> connection_;
  int64_t heartbeat_ms_ = 1000;
  int64_t silence_limit_ms_ = 0;  // 0: until told by the job manager
  std::chrono::steady_clock::time_point last_heard_;
  bool lost_job_manager_ = false;
  bool attempt_ended_ = false;
  bool woken_ = false;
  std::mutex heartbeat_mutex_;
  std::condition_variable heartbeat_wake_;
  std::deque<pb::Envelope> queue_;
  std::map<AttemptKey, std::unique_ptr<DeployedAttempt>> attempts_;
  std::map<std::string, std::shared_ptr<const JobMetrics>> metrics_;  // newest attempt per job
  std::map<TaskKey, TaskRateTracker> task_rates_;  // of the tasks in the last heartbeat
  std::optional<HttpServer> metrics_server_;       // last: destroyed first
};

TaskManager::TaskManager(TaskManagerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
TaskManager::~TaskManager() = default;
const std::string& TaskManager::id() const {
  return impl_->id();
}
uint16_t TaskManager::data_port() const {
  return impl_->data_port();
}
uint16_t TaskManager::metrics_port() const {
  return impl_->metrics_port();
}
std::shared_ptr<const JobMetrics> TaskManager::metrics_of(const std::string& job) const {
  return impl_->metrics_of(job);
}
int TaskManager::run(const std::atomic<bool>& stop) {
  return impl_->run(stop);
}
void TaskManager::wake() {
  impl_->wake();
}

}  // namespace sluice
