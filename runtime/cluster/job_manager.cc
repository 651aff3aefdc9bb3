#include "runtime/cluster/job_manager.h"

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include "runtime/checkpoint/checksummed_file.h"
#include "runtime/checkpoint/storage.h"
#include "runtime/cluster/cluster_job.h"
#include "runtime/cluster/local_link.h"
#include "runtime/cluster/rest_api.h"
#include "runtime/cluster/rpc.h"
#include "runtime/core/logging.h"
#include "runtime/rest/http_server.h"

namespace sluice {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr char kJobRecord[] = "_job";

struct TaskManagerRecord {
  pb::RegisterTaskManager registration;
  std::shared_ptr<ControlConnection> connection;
  SteadyClock::time_point last_heartbeat;
  uint64_t rss_bytes = 0;
};

}  // namespace

class JobManager::Impl final : public ClusterView, public JobManagerAccess {
 public:
  explicit Impl(JobManagerOptions options) : options_(std::move(options)) {
    if (options_.listen) server_.emplace(io_, options_.bind_host, options_.port, handlers());
    {
      std::lock_guard lock(mutex_);
      if (options_.record_jobs) resume_stored_jobs();
    }
    if (options_.rest_port >= 0) start_rest();
  }

  ~Impl() override {
    rest_.reset();  // its routes use this
    {
      std::lock_guard lock(mutex_);
      shutting_down_ = true;
    }
    if (server_) server_->stop();
    std::vector<std::shared_ptr<ControlConnection>> local;
    {
      std::lock_guard lock(mutex_);
      local.swap(local_connections_);
    }
    for (auto& connection : local) connection->close();
    io_.stop();
  }

  uint16_t port() const { return server_ ? server_->port() : 0; }
  uint16_t rest_port() const { return rest_ ? rest_->port() : 0; }

  // JobManagerAccess
  void locked(const std::function<void()>& fn) override {
    std::lock_guard lock(mutex_);
    fn();
    wake_.notify_one();
  }
  std::vector<TaskManagerView> task_manager_views() const override {
    std::map<std::string, int> free;
    for (const SlotOffer& offer : free_slots()) free[offer.task_manager] = offer.free_slots;
    std::vector<TaskManagerView> views;
    for (const auto& [id, tm] : task_managers_) {
      const pb::RegisterTaskManager& r = tm.registration;
      views.push_back(TaskManagerView{id, r.host(), r.data_port(), r.metrics_port(), r.slots(),
                                      free[id],
                                      std::chrono::duration_cast<std::chrono::milliseconds>(
                                          SteadyClock::now() - tm.last_heartbeat)
                                          .count(),
                                      tm.rss_bytes});
    }
    return views;
  }
  const std::map<std::string, std::unique_ptr<ClusterJob>>& job_table() const override {
    return jobs_;
  }
  std::string submit_job(const pb::SubmitJob& submit, const std::string& from) override {
    uint32_t number = next_job_number_;
    std::string id = submit.name().empty() ? fmt::format("{}-{}", submit.spec().topology(), number)
                                           : submit.name();
    if (find(id) != nullptr) throw UsageError(fmt::format("a job named '{}' exists already", id));
    auto job =
        std::make_unique<ClusterJob>(id, number, submit.spec(), options_.checkpoint_dir, *this);
    job->record();  // a job that a restarted job manager could not resume is not accepted
    ++next_job_number_;
    jobs_[id] = std::move(job);
    log::cluster()->info("job {} submitted from {}", id, from);
    return id;
  }

  void wake() {
    std::lock_guard lock(mutex_);
    wake_.notify_one();
  }

  std::shared_ptr<ControlConnection> connect_in_process(IoThread& io, RpcHandlers handlers,
                                                        const std::string& name) {
    auto [theirs, ours] = make_local_link(LocalLinkEnd{io, std::move(handlers), name},
                                          LocalLinkEnd{io_, this->handlers(), "job manager"});
    std::lock_guard lock(mutex_);
    std::erase_if(local_connections_, [](const auto& c) { return c->closed(); });
    local_connections_.push_back(ours);
    return theirs;
  }

  int run(const std::atomic<bool>& stop) {
    log::cluster()->info("job manager listening on port {}", port());
    while (!stop.load()) {
      {
        std::lock_guard lock(mutex_);
        expire_silent_task_managers();
        for (auto& [id, job] : jobs_) job->step();
      }
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, std::chrono::milliseconds(20));
    }
    return 0;
  }

  // ClusterView, under the lock.
  std::vector<SlotOffer> free_slots() const override {
    std::vector<SlotOffer> offers;
    for (const auto& [id, tm] : task_managers_) {
      int used = 0;
      for (const auto& [job_id, job] : jobs_) used += job->slots_on(id);
      offers.push_back(SlotOffer{id, tm.registration.slots() - used});
    }
    return offers;
  }
  std::shared_ptr<ControlConnection> connection(const std::string& task_manager) const override {
    auto it = task_managers_.find(task_manager);
    return it == task_managers_.end() ? nullptr : it->second.connection;
  }
  pb::Peer peer(const std::string& task_manager) const override {
    const pb::RegisterTaskManager& r = task_managers_.at(task_manager).registration;
    pb::Peer peer;
    peer.set_id(r.id());
    peer.set_host(r.host());
    peer.set_data_port(r.data_port());
    return peer;
  }
  void persist(const pb::StoredJob& job) override {
    if (options_.checkpoint_dir.empty() || !options_.record_jobs) return;
    std::string dir = options_.checkpoint_dir + "/" + job.job();
    try {
      make_directories(dir);
      write_checksummed_file(dir + "/" + kJobRecord, job.SerializeAsString());
    } catch (const SluiceError& e) {
      throw ExternalError(
          fmt::format("job {}: cannot record the job in {}: {}", job.job(), dir, e.what()));
    }
  }

 private:
  RpcHandlers handlers() {
    RpcHandlers h;
    h.on_message = [this](const std::shared_ptr<ControlConnection>& c, pb::Envelope&& e) {
      bool keep = true;
      {
        std::lock_guard lock(mutex_);
        keep = on_message(c, e);
        wake_.notify_one();
      }
      if (!keep) c->close();  // outside the lock: on_close may run right here
    };
    h.on_close = [this](const std::shared_ptr<ControlConnection>& c, const std::string& reason) {
      std::lock_guard lock(mutex_);
      if (shutting_down_) return;  // jobs stay as recorded, to be resumed
      if (std::string id = task_manager_of(c); !id.empty()) lose_task_manager(id, reason);
    };
    return h;
  }

  // Returns false when the connection must be closed.
  bool on_message(const std::shared_ptr<ControlConnection>& c, const pb::Envelope& e) {
    std::string task_manager = task_manager_of(c);
    switch (e.body_case()) {
      case pb::Envelope::kRegisterTaskManager:
        register_task_manager(c, e.register_task_manager());
        return true;
      case pb::Envelope::kHeartbeat:
        heartbeat(c, e.heartbeat());
        return true;
      case pb::Envelope::kTaskStatus:
        if (ClusterJob* job = find(e.task_status().job()); job && !task_manager.empty()) {
          job->on_task_status(task_manager, e.task_status());
        }
        return !task_manager.empty();
      case pb::Envelope::kCheckpointAck:
        if (ClusterJob* job = find(e.checkpoint_ack().job()); job && !task_manager.empty()) {
          job->on_checkpoint_ack(task_manager, e.checkpoint_ack());
        }
        return !task_manager.empty();
      case pb::Envelope::kBatchSlices:
        if (ClusterJob* job = find(e.batch_slices().job()); job && !task_manager.empty()) {
          job->on_batch_slices(task_manager, e.batch_slices());
        }
        return !task_manager.empty();
      case pb::Envelope::kSubmitJob:
        submit(c, e.submit_job());
        return true;
      case pb::Envelope::kListJobs:
        list(c);
        return true;
      case pb::Envelope::kListTaskManagers:
        list_task_managers(c);
        return true;
      case pb::Envelope::kCancelJob:
        with_job(c, e.cancel_job().job(), [&](ClusterJob& job) {
          job.cancel();
          job.add_waiter(c);
        });
        return true;
      case pb::Envelope::kTriggerCheckpoint:
        with_job(c, e.trigger_checkpoint().job(),
                 [&](ClusterJob& job) { trigger(c, job, e.trigger_checkpoint()); });
        return true;
      case pb::Envelope::kStopJob:
        with_job(c, e.stop_job().job(), [&](ClusterJob& job) { stop(c, job, e.stop_job()); });
        return true;
      default:
        log::cluster()->warn("job manager: unexpected message {} from {}; closing", e.body_case(),
                             c->peer());
        return false;
    }
  }

  template <class Fn>
  void with_job(const std::shared_ptr<ControlConnection>& c, const std::string& id, Fn fn) {
    if (ClusterJob* job = find(id)) return fn(*job);
    reply_error(c, fmt::format("no job '{}' (see sluice list)", id));
  }

  // The client hears when the job has ended (or that the stop failed).
  static void stop(const std::shared_ptr<ControlConnection>& c, ClusterJob& job,
                   const pb::StopJob& request) {
    std::string why;
    if (request.drain()) {
      if (job.drain(why, request.savepoint_dir(), c)) return;
    } else if (request.rescale_to() != 0) {
      if (job.rescale(request.rescale_to(), c, why)) return;
    } else if (job.stop_with_savepoint(request.savepoint_dir(), c, why)) {
      return;
    }
    reply_error(c, why);
  }

  static void trigger(const std::shared_ptr<ControlConnection>& c, ClusterJob& job,
                      const pb::TriggerCheckpoint& request) {
    if (!request.savepoint()) return job.request_checkpoint(c);
    std::string why;
    if (job.request_savepoint(request.savepoint_dir(), c, why) != 0) return;
    pb::Envelope reply;
    reply.mutable_checkpoint_reply()->set_job(job.id());
    reply.mutable_checkpoint_reply()->set_error(why);
    c->send(reply);
  }

  static void reply_error(const std::shared_ptr<ControlConnection>& c, const std::string& message) {
    pb::Envelope reply;
    reply.mutable_error_reply()->set_message(message);
    c->send(reply);
  }

  ClusterJob* find(const std::string& id) {
    auto it = jobs_.find(id);
    return it == jobs_.end() ? nullptr : it->second.get();
  }

  std::string task_manager_of(const std::shared_ptr<ControlConnection>& c) const {
    for (const auto& [id, tm] : task_managers_) {
      if (tm.connection == c) return id;
    }
    return "";
  }

  void register_task_manager(const std::shared_ptr<ControlConnection>& c,
                             const pb::RegisterTaskManager& r) {
    if (auto it = task_managers_.find(r.id()); it != task_managers_.end()) {
      // The same task manager again (it saw its old connection fail first):
      // whatever ran on the old registration is lost.
      std::shared_ptr<ControlConnection> old = it->second.connection;
      lose_task_manager(r.id(), "registered again from " + c->peer());
      // Not here: on_close would take the lock this thread holds.
      boost::asio::post(io_.context(), [old] { old->close(); });
    }
    task_managers_[r.id()] = TaskManagerRecord{r, c, SteadyClock::now()};
    log::cluster()->info("task manager {} registered from {} with {} slots (data {}:{})", r.id(),
                         c->peer(), r.slots(), r.host(), r.data_port());
    pb::Envelope reply;
    reply.mutable_registered()->set_heartbeat_interval_ms(options_.heartbeat_interval);
    reply.mutable_registered()->set_heartbeat_timeout_ms(options_.heartbeat_timeout);
    c->send(reply);
  }

  // Answered, so that a task manager that hears nothing for the timeout
  // knows it is cut off and stops its tasks.
  // The answer carries, per attempt the task manager reported aligned
  // sources of, the other task managers' minimum.
  void heartbeat(const std::shared_ptr<ControlConnection>& c, const pb::Heartbeat& beat) {
    std::string id = task_manager_of(c);
    if (id.empty()) return;
    task_managers_[id].last_heartbeat = SteadyClock::now();
    task_managers_[id].rss_bytes = beat.rss_bytes();
    for (const pb::TaskMetrics& task : beat.tasks()) {
      if (ClusterJob* job = find(task.job())) job->on_task_metrics(id, task);
    }
    for (const pb::AttemptMetrics& attempt : beat.attempts()) {
      if (ClusterJob* job = find(attempt.job())) job->on_attempt_metrics(id, attempt);
    }
    pb::Envelope reply;
    reply.mutable_heartbeat()->set_id("job manager");
    for (const pb::SourceWatermark& mine : beat.source_watermarks()) {
      ClusterJob* job = find(mine.job());
      if (job == nullptr) continue;
      std::optional<Timestamp> others = job->alignment().exchange(
          id, mine.attempt(),
          mine.holds() ? std::optional<Timestamp>(mine.watermark()) : std::nullopt);
      pb::SourceWatermark* theirs = reply.mutable_heartbeat()->add_source_watermarks();
      theirs->set_job(mine.job());
      theirs->set_attempt(mine.attempt());
      theirs->set_holds(others.has_value());
      theirs->set_watermark(others.value_or(0));
    }
    c->send(reply);
  }

  void expire_silent_task_managers() {
    if (options_.heartbeat_timeout <= 0) return;  // (the embedded cluster)
    auto deadline = SteadyClock::now() - std::chrono::milliseconds(options_.heartbeat_timeout);
    std::vector<std::string> silent;
    for (const auto& [id, tm] : task_managers_) {
      if (tm.last_heartbeat < deadline) silent.push_back(id);
    }
    for (const std::string& id : silent) {
      std::shared_ptr<ControlConnection> c = task_managers_[id].connection;
      // It may still be running: give it a timeout of its own to notice it
      // was cut off and stop, before its tasks run anywhere else.
      lose_task_manager(
          id, fmt::format("no heartbeat for {}", format_duration(options_.heartbeat_timeout)),
          options_.heartbeat_timeout);
      c->close();
    }
  }

  // Lost with work on it is a failure; an idle one leaving is news.
  void lose_task_manager(const std::string& id, const std::string& reason,
                         DurationMs hold_off = 0) {
    bool busy = false;
    for (const auto& [job_id, job] : jobs_) busy |= job->slots_on(id) > 0;
    log::cluster()->log(busy ? spdlog::level::warn : spdlog::level::info,
                        "task manager {} lost: {}", id, reason);
    task_managers_.erase(id);
    for (auto& [job_id, job] : jobs_) job->on_task_manager_lost(id, reason, hold_off);
  }

  void submit(const std::shared_ptr<ControlConnection>& c, const pb::SubmitJob& submit) {
    pb::Envelope reply;
    try {
      std::string id = submit_job(submit, c->peer());
      if (submit.wait()) jobs_.at(id)->add_waiter(c);
      reply.mutable_submit_reply()->set_job(id);
    } catch (const std::exception& e) {
      reply.mutable_submit_reply()->set_error(e.what());
    }
    c->send(reply);
  }

  void list_task_managers(const std::shared_ptr<ControlConnection>& c) {
    pb::Envelope reply;
    pb::TaskManagerList& list = *reply.mutable_task_manager_list();  // set even when empty
    for (const TaskManagerView& tm : task_manager_views()) {
      pb::TaskManagerInfo& info = *list.add_task_managers();
      info.set_id(tm.id);
      info.set_host(tm.host);
      info.set_data_port(tm.data_port);
      info.set_slots(tm.slots);
      info.set_free_slots(tm.free_slots);
      info.set_heartbeat_age_ms(tm.heartbeat_age_ms);
      info.set_metrics_port(tm.metrics_port);
      info.set_rss_bytes(tm.rss_bytes);
    }
    c->send(reply);
  }

  void list(const std::shared_ptr<ControlConnection>& c) {
    pb::Envelope reply;
    pb::JobList& list = *reply.mutable_job_list();  // set even when empty
    for (const auto& [id, job] : jobs_) *list.add_jobs() = job->info();
    c->send(reply);
  }

  // Reads the job records in checkpoint storage: job numbers continue after
  // the highest, and jobs that had not ended are resumed.
  void resume_stored_jobs() {
    if (options_.checkpoint_dir.empty()) return;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(options_.checkpoint_dir, ec)) {
      std::string record = (entry.path() / kJobRecord).string();
      if (!std::filesystem::exists(record)) continue;
      pb::StoredJob stored;
      try {
        if (!stored.ParseFromString(read_checksummed_file(record)))
          throw InputError(record + ": not a job record");
      } catch (const SluiceError& e) {
        log::cluster()->error("skipping {}: {}", record, e.what());
        continue;
      }
      next_job_number_ = std::max(next_job_number_, stored.job_number() + 1);
      if (stored.state() != "running" && stored.state() != "waiting") continue;
      try {
        auto job = std::make_unique<ClusterJob>(stored.job(), stored.job_number(), stored.spec(),
                                                options_.checkpoint_dir, *this);
        job->resume_after(stored.attempt());
        jobs_[stored.job()] = std::move(job);
      } catch (const std::exception& e) {
        log::cluster()->error("cannot resume job {}: {}", stored.job(), e.what());
      }
    }
  }

  JobManagerOptions options_;
  IoThread io_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, TaskManagerRecord> task_managers_;
  std::map<std::string, std::unique_ptr<ClusterJob>> jobs_;
  uint32_t next_job_number_ = 1;
  bool shutting_down_ = false;
  std::vector<std::shared_ptr<ControlConnection>> local_connections_;
  void start_rest() {
    HttpServerOptions http;
    http.bind_host = options_.rest_bind;
    http.port = static_cast<uint16_t>(options_.rest_port);
    http.bearer_token = options_.rest_token;
    add_job_manager_routes(router_, *this);
    std::string web_dir = options_.web_dir.empty() ? WebAssets::default_dir() : options_.web_dir;
    auto assets = std::make_shared<const WebAssets>(WebAssets::load(web_dir));
    if (assets->empty()) {
      log::cluster()->warn("no dashboard files in {}; the REST API and /metrics work without them",
                           web_dir.empty() ? "web/ next to the program" : web_dir);
    }
    add_dashboard_routes(router_, assets);
    try {
      rest_.emplace(http, [this](const HttpRequest& request) { return router_.handle(request); });
    } catch (const ExternalError& e) {
      if (options_.rest_port_given) throw;
      log::cluster()->warn("{}; the REST API and dashboard are off (see --rest-port)", e.what());
      return;
    }
    log::cluster()->info("REST API and dashboard at http://{}:{}/", options_.rest_bind,
                         rest_->port());
  }

  RestRouter router_;
  std::optional<RpcServer> server_;  // it serves as soon as it exists
  std::optional<HttpServer> rest_;   // last: destroyed first
};

JobManager::JobManager(JobManagerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
JobManager::~JobManager() = default;
uint16_t JobManager::port() const {
  return impl_->port();
}
uint16_t JobManager::rest_port() const {
  return impl_->rest_port();
}
std::shared_ptr<ControlConnection> JobManager::connect_in_process(IoThread& io,
                                                                  RpcHandlers handlers,
                                                                  const std::string& name) {
  return impl_->connect_in_process(io, std::move(handlers), name);
}
int JobManager::run(const std::atomic<bool>& stop) {
  return impl_->run(stop);
}
void JobManager::wake() {
  impl_->wake();
}

}  // namespace sluice
