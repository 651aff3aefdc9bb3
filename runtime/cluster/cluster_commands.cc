// The cluster's command line: `sluice jobmanager`, `sluice taskmanager`
// (servers that run until SIGINT or SIGTERM) and the client commands
// `submit`, `list`, `cancel` and `checkpoint`, which talk to a job manager.
#include <csignal>
#include <cstdio>
#include <thread>

#include <fmt/format.h>

#include "runtime/cli/cli.h"
#include "runtime/cli/command_line.h"
#include "runtime/cli/commands.h"
#include "runtime/cli/run_options.h"
#include "runtime/cluster/cluster.pb.h"
#include "runtime/cluster/job_manager.h"
#include "runtime/cluster/rpc.h"
#include "runtime/cluster/task_manager.h"
#include "runtime/core/file_io.h"
#include "runtime/core/logging.h"

namespace sluice {
namespace {

constexpr std::chrono::milliseconds kClientTimeout{10000};

std::atomic<bool> g_stop{false};
void on_stop_signal(int) {
  g_stop.store(true);
}

void stop_on_signals() {
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
}

constexpr int kDefaultRestPort = 8081;

// The bearer token in `path`, without surrounding white space.
std::string read_token(const std::string& path) {
  std::string token = file_io::read_whole_file(path, "--rest-token-file");
  size_t first = token.find_first_not_of(" \t\r\n");
  size_t last = token.find_last_not_of(" \t\r\n");
  if (first == std::string::npos) throw UsageError("--rest-token-file: " + path + " is empty");
  token = token.substr(first, last - first + 1);
  if (token.find_first_of(" \t\r\n") != std::string::npos) {
    throw UsageError("--rest-token-file: the token in " + path + " must be one word");
  }
  return token;
}

// Prints a port the server listens on as a line of stdout, for scripts:
// the first line is the main port, a second one the REST or metrics port.
void announce_port(uint16_t port) {
  fmt::print("{}\n", port);
  std::fflush(stdout);
}

int jobmanager_command(const std::vector<std::string>& args) {
  JobManagerOptions options;
  std::string log_level = "info";
  CommandLine line("jobmanager",
                   "Runs a job manager until SIGINT or SIGTERM. Prints the port it listens on.");
  CLI::Option* port = line.port("--port", options.port, "port to listen on (0: any free port)");
  line.text("--bind", options.bind_host, "address to listen on (default 0.0.0.0)")
      ->type_name("HOST");
  line.text("--checkpoint-dir", options.checkpoint_dir,
            "default checkpoint storage of jobs, and where jobs are recorded; a job manager "
            "that restarts resumes the jobs it finds there")
      ->type_name("DIR");
  line.duration("--heartbeat-interval", options.heartbeat_interval,
                "how often task managers report (default 1s)");
  line.duration("--heartbeat-timeout", options.heartbeat_timeout,
                "a task manager silent for D is lost (default 10s)");
  options.rest_port = kDefaultRestPort;
  CLI::Option* rest_port =
      line.parsed("--rest-port", options.rest_port, parse_port_or_off, "P|off",
                  "REST API, dashboard and /metrics (default 8081; 0: any free port)");
  CLI::Option* rest_bind =
      line.text("--rest-bind", options.rest_bind,
                "address the REST API listens on (default 127.0.0.1; 0.0.0.0 with a token)")
          ->type_name("HOST");
  std::string token_file;
  line.text("--rest-token-file", token_file,
            "a file holding the bearer token every changing REST request must carry")
      ->type_name("FILE");
  line.text("--web-dir", options.web_dir,
            "the dashboard's files (default: web/ next to the program, or ../share/sluice/web)")
      ->type_name("DIR");
  line.text("--log-level", log_level, "debug, info (default), warn or error")->type_name("LEVEL");
  if (!line.parse(args)) return kExitOk;
  options.rest_port_given = rest_port->count() > 0;
  if (!token_file.empty()) options.rest_token = read_token(token_file);
  // Without a token, nobody but this machine may change jobs.
  if (rest_bind->count() == 0)
    options.rest_bind = options.rest_token.empty() ? "127.0.0.1" : "0.0.0.0";
  bool port_given = port->count() > 0;
  if (!port_given) throw UsageError("jobmanager: missing --port (0 picks a free port)");
  if (options.heartbeat_interval >= options.heartbeat_timeout) {
    throw UsageError("jobmanager: --heartbeat-interval must be shorter than --heartbeat-timeout");
  }
  if (options.heartbeat_interval > 3'600'000) {
    throw UsageError("jobmanager: --heartbeat-interval must be at most 1h");
  }
  log::set_level(log_level);
  stop_on_signals();
  JobManager jobmanager(options);
  announce_port(jobmanager.port());
  if (jobmanager.rest_port() != 0) announce_port(jobmanager.rest_port());
  return jobmanager.run(g_stop);
}

int taskmanager_command(const std::vector<std::string>& args) {
  TaskManagerOptions options;
  std::string log_level = "info";
  std::pair<std::string, uint16_t> jobmanager;
  CommandLine line("taskmanager",
                   "Runs a task manager until SIGINT or SIGTERM. Prints its data port.");
  line.host_port("--jobmanager", jobmanager, "the job manager to register with");
  line.count("--slots", options.slots, "task slots (default 1)");
  line.text("--id", options.id, "unique name (default HOST-PID)")->type_name("NAME");
  line.text("--host", options.data_host,
            "address other task managers reach this one at (default 127.0.0.1)")
      ->type_name("HOST");
  line.text("--bind", options.bind_host, "address the data port listens on (default 0.0.0.0)")
      ->type_name("ADDRESS");
  line.port("--data-port", options.data_port, "data port (default 0: any free port)");
  line.parsed("--metrics-port", options.metrics_port, parse_port_or_off, "P|off",
              "serve Prometheus metrics at /metrics on P (0: any free port; default off)");
  line.text("--metrics-bind", options.metrics_bind,
            "address the metrics port listens on (default 127.0.0.1)")
      ->type_name("HOST");
  line.text("--log-level", log_level, "debug, info (default), warn or error")->type_name("LEVEL");
  if (!line.parse(args)) return kExitOk;
  std::tie(options.jobmanager_host, options.jobmanager_port) = jobmanager;
  if (options.jobmanager_host.empty())
    throw UsageError("taskmanager: missing --jobmanager HOST:PORT");
  log::set_level(log_level);
  stop_on_signals();
  TaskManager taskmanager(options);
  announce_port(taskmanager.data_port());
  if (taskmanager.metrics_port() != 0) announce_port(taskmanager.metrics_port());
  return taskmanager.run(g_stop);
}

// Client commands: the job manager's address, and what the command takes.
struct ClientArgs {
  std::string host;
  uint16_t port = 0;
  bool wait = false;
};

// Declares --jobmanager on `line`, parses, and checks it was given. False
// when --help was given.
bool parse_client_args(CommandLine& line, const std::vector<std::string>& args,
                       ClientArgs& parsed) {
  std::pair<std::string, uint16_t> jobmanager;
  line.host_port("--jobmanager", jobmanager, "the job manager");
  if (!line.parse(args)) return false;
  if (jobmanager.first.empty()) {
    throw UsageError(line.command() + ": missing --jobmanager HOST:PORT");
  }
  std::tie(parsed.host, parsed.port) = jobmanager;
  return true;
}

void throw_if_refused(const pb::Envelope& reply) {
  if (reply.has_error_reply()) throw UsageError(reply.error_reply().message());
}

int report_end(const std::string& job, const std::string& state, const std::string& message) {
  fmt::print(stderr, "job {} {}{}\n", job, state, message.empty() ? "" : ": " + message);
  return state == "finished" ? kExitOk : kExitJobFailed;
}

// After the job manager went away: asks it (once it is back, as a restarted
// job manager resumes its jobs) every second how the job stands, until the
// job ended or the job manager stayed away for `give_up_after`.
int poll_for_end(const ClientArgs& args, const std::string& job,
                 std::chrono::minutes give_up_after) {
  auto last_contact = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - last_contact < give_up_after) {
    try {
      RpcClient client(args.host, args.port, kClientTimeout);
      pb::Envelope request;
      request.mutable_list_jobs();
      pb::Envelope reply = client.call(request, kClientTimeout);
      last_contact = std::chrono::steady_clock::now();
      for (const pb::JobInfo& info : reply.job_list().jobs()) {
        bool ended =
            info.state() == "finished" || info.state() == "failed" || info.state() == "cancelled";
        if (info.job() == job && ended) return report_end(job, info.state(), info.message());
      }
    } catch (const ExternalError&) {
      // not back yet
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));  // a client's polling interval
  }
  throw ExternalError(fmt::format("lost the job manager at {}:{} while waiting for job {}",
                                  args.host, args.port, job));
}

// Waits for the job's final status; exit 0 only when it finished. Outlives
// a job manager restart.
int wait_for_end(RpcClient& client, const ClientArgs& args, const std::string& job) {
  try {
    while (true) {
      std::optional<pb::Envelope> message = client.receive(std::chrono::hours(24 * 365));
      if (!message || !message->has_job_status()) continue;
      const pb::JobStatus& status = message->job_status();
      if (status.job() == job) return report_end(job, status.state(), status.message());
    }
  } catch (const ExternalError& e) {
    log::cli()->warn("{}; waiting for the job manager to come back", e.what());
  }
  return poll_for_end(args, job, std::chrono::minutes(10));
}

int submit_command(const std::vector<std::string>& args) {
  CommandLine line("submit",
                   "Submits a job and prints its id. With --wait, stays until the job ends, also "
                   "across a restart of the job manager: exit 0 when it finished, 1 with the "
                   "reason when it failed or was cancelled. Job options are those of `sluice "
                   "run`; --checkpoint-dir defaults to the job manager's.");
  ClientArgs parsed;
  line.flag("--wait", parsed.wait, "wait for the job to end");
  // Each value is checked here; the job manager parses them again and
  // checks them together (its --checkpoint-dir is the default).
  RunOptions job_options;
  add_job_options(line, job_options);
  std::string topology;
  line.positional("TOPOLOGY", topology, "the topology to run (see `sluice topologies`)");
  if (!parse_client_args(line, args, parsed)) return kExitOk;
  if (topology.empty()) throw UsageError("submit: missing TOPOLOGY (see sluice topologies)");
  std::vector<std::string> job_args =
      line.arguments_except(args, {"--jobmanager", "--wait"}, topology);
  pb::Envelope request;
  pb::SubmitJob& submit = *request.mutable_submit_job();
  submit.mutable_spec()->set_topology(topology);
  for (const std::string& arg : job_args) submit.mutable_spec()->add_args(arg);
  submit.set_wait(parsed.wait);
  RpcClient client(parsed.host, parsed.port, kClientTimeout);
  pb::Envelope reply = client.call(request, kClientTimeout);
  throw_if_refused(reply);
  if (!reply.submit_reply().error().empty()) throw UsageError(reply.submit_reply().error());
  std::string job = reply.submit_reply().job();
  fmt::print("{}\n", job);
  std::fflush(stdout);
  return parsed.wait ? wait_for_end(client, parsed, job) : kExitOk;
}

int list_command(const std::vector<std::string>& args) {
  CommandLine line("list", "Lists the cluster's jobs.");
  ClientArgs parsed;
  if (!parse_client_args(line, args, parsed)) return kExitOk;
  pb::Envelope request;
  request.mutable_list_jobs();
  RpcClient client(parsed.host, parsed.port, kClientTimeout);
  pb::Envelope reply = client.call(request, kClientTimeout);
  throw_if_refused(reply);
  fmt::print("{:<28} {:<10} {:>7} {:>15}  {}\n", "JOB", "STATE", "ATTEMPT", "LAST CHECKPOINT",
             "MESSAGE");
  for (const pb::JobInfo& job : reply.job_list().jobs()) {
    fmt::print("{:<28} {:<10} {:>7} {:>15}  {}\n", job.job(), job.state(), job.attempt(),
               job.last_checkpoint(), job.message());
  }
  return kExitOk;
}

int taskmanagers_command(const std::vector<std::string>& args) {
  CommandLine line("taskmanagers",
                   "Lists the task managers registered with the job manager: their data "
                   "address, slots, free slots and the age of their last heartbeat.");
  ClientArgs parsed;
  if (!parse_client_args(line, args, parsed)) return kExitOk;
  pb::Envelope request;
  request.mutable_list_task_managers();
  RpcClient client(parsed.host, parsed.port, kClientTimeout);
  pb::Envelope reply = client.call(request, kClientTimeout);
  throw_if_refused(reply);
  fmt::print("{:<24} {:<28} {:>5} {:>10} {:>14}\n", "TASK MANAGER", "DATA ADDRESS", "SLOTS",
             "FREE SLOTS", "HEARTBEAT AGE");
  for (const pb::TaskManagerInfo& tm : reply.task_manager_list().task_managers()) {
    fmt::print("{:<24} {:<28} {:>5} {:>10} {:>11} ms\n", tm.id(),
               fmt::format("{}:{}", tm.host(), tm.data_port()), tm.slots(), tm.free_slots(),
               tm.heartbeat_age_ms());
  }
  return kExitOk;
}

// Parses "COMMAND JOB --jobmanager HOST:PORT"; the job is empty after --help.
std::pair<ClientArgs, std::string> parse_job_command(const std::string& command,
                                                     const std::string& description,
                                                     const std::vector<std::string>& args) {
  CommandLine line(command, description);
  std::string job;
  line.positional("JOB", job, "the job (see sluice list)");
  ClientArgs parsed;
  if (!parse_client_args(line, args, parsed)) return {parsed, ""};
  if (job.empty()) throw UsageError(command + ": expected one JOB (see sluice list)");
  return {parsed, job};
}

int cancel_command(const std::vector<std::string>& args) {
  auto [parsed, job] = parse_job_command("cancel", "Cancels a job.", args);
  if (job.empty()) return kExitOk;
  pb::Envelope request;
  request.mutable_cancel_job()->set_job(job);
  RpcClient client(parsed.host, parsed.port, kClientTimeout);
  pb::Envelope reply = client.call(request, kClientTimeout);
  throw_if_refused(reply);
  fmt::print("{} {}\n", job, reply.job_status().state());
  return kExitOk;
}

// Sends `request` and waits up to ten minutes for its answer (a stop, a
// checkpoint); throws when the job manager refused it.
pb::Envelope call_and_wait(const ClientArgs& parsed, const pb::Envelope& request) {
  RpcClient client(parsed.host, parsed.port, kClientTimeout);
  pb::Envelope reply = client.call(request, std::chrono::minutes(10));
  throw_if_refused(reply);
  return reply;
}

// Prints the path a checkpoint or savepoint request was answered with.
int print_checkpoint_path(const ClientArgs& parsed, const pb::Envelope& request, const char* what) {
  pb::Envelope reply = call_and_wait(parsed, request);
  if (!reply.checkpoint_reply().error().empty()) {
    fmt::print(stderr, "sluice: {}: {}\n", what, reply.checkpoint_reply().error());
    return kExitJobFailed;
  }
  fmt::print("{}\n", reply.checkpoint_reply().path());
  return kExitOk;
}

int stop_command(const std::vector<std::string>& args) {
  CommandLine line(
      "stop",
      "Stops a job and waits until it has. Without --drain, its sources stop where they are and "
      "a savepoint keeps the state (open windows and timers included) and commits the output: "
      "resume it with --restore. With --drain, its sources end now with the maximum watermark, "
      "so every window fires and every timer runs, and the final checkpoint commits the output "
      "(a savepoint too with --savepoint-dir).");
  std::string job;
  bool drain = false;
  std::string savepoint_dir;
  line.positional("JOB", job, "the job (see sluice list)");
  line.flag("--drain", drain, "end the sources with the maximum watermark");
  line.text("--savepoint-dir", savepoint_dir,
            "where the savepoint goes (default: <checkpoint dir>/savepoints)");
  ClientArgs parsed;
  if (!parse_client_args(line, args, parsed)) return kExitOk;
  if (job.empty()) throw UsageError("stop: expected one JOB (see sluice list)");
  pb::Envelope request;
  request.mutable_stop_job()->set_job(job);
  request.mutable_stop_job()->set_drain(drain);
  request.mutable_stop_job()->set_savepoint_dir(savepoint_dir);
  pb::Envelope reply = call_and_wait(parsed, request);
  if (!reply.job_status().savepoint().empty()) fmt::print("{}\n", reply.job_status().savepoint());
  return report_end(job, reply.job_status().state(), reply.job_status().message());
}

int rescale_command(const std::vector<std::string>& args) {
  CommandLine line("rescale",
                   "Rescales a running job: stops it with a savepoint and resumes it from that "
                   "savepoint at parallelism N, with exactly-once output throughout. Waits until "
                   "the job runs again and says how long it did not process.");
  std::string job;
  int parallelism = 0;
  line.positional("JOB", job, "the job (see sluice list)");
  line.count("N", parallelism, "the new parallelism");
  ClientArgs parsed;
  if (!parse_client_args(line, args, parsed)) return kExitOk;
  if (job.empty() || parallelism < 1) {
    throw UsageError("rescale: expected JOB and a parallelism N of at least 1");
  }
  pb::Envelope request;
  request.mutable_stop_job()->set_job(job);
  request.mutable_stop_job()->set_rescale_to(parallelism);
  pb::Envelope reply = call_and_wait(parsed, request);
  const pb::JobStatus& status = reply.job_status();
  if (status.state() != "running") return report_end(job, status.state(), status.message());
  fmt::print(stderr, "job {} {}\n", job, status.message());
  return kExitOk;
}

int savepoint_command(const std::vector<std::string>& args) {
  CommandLine line("savepoint",
                   "Takes a savepoint of a running job and prints its directory: its whole state "
                   "in the portable form, readable by either state backend at any parallelism, "
                   "with nothing outside the directory, so it can be moved. Resume a job from it "
                   "with --restore DIR.");
  std::string job;
  std::string dir;
  line.positional("JOB", job, "the job (see sluice list)");
  line.text("--dir", dir, "where the savepoint goes (default: <checkpoint dir>/savepoints)");
  ClientArgs parsed;
  if (!parse_client_args(line, args, parsed)) return kExitOk;
  if (job.empty()) throw UsageError("savepoint: expected one JOB (see sluice list)");
  pb::Envelope request;
  request.mutable_trigger_checkpoint()->set_job(job);
  request.mutable_trigger_checkpoint()->set_savepoint(true);
  request.mutable_trigger_checkpoint()->set_savepoint_dir(dir);
  return print_checkpoint_path(parsed, request, "savepoint");
}

int checkpoint_command(const std::vector<std::string>& args) {
  auto [parsed, job] = parse_job_command(
      "checkpoint", "Takes a checkpoint of a running job now and prints its path.", args);
  if (job.empty()) return kExitOk;
  pb::Envelope request;
  request.mutable_trigger_checkpoint()->set_job(job);
  return print_checkpoint_path(parsed, request, "checkpoint");
}

SLUICE_COMMAND(CommandSpec{"jobmanager", "run a job manager (--help)", jobmanager_command});
SLUICE_COMMAND(CommandSpec{"taskmanager", "run a task manager (--help)", taskmanager_command});
SLUICE_COMMAND(CommandSpec{"submit", "submit a job to a job manager (--help)", submit_command});
SLUICE_COMMAND(CommandSpec{"list", "list a cluster's jobs (--help)", list_command});
SLUICE_COMMAND(CommandSpec{"taskmanagers", "list a cluster's task managers (--help)",
                           taskmanagers_command});
SLUICE_COMMAND(CommandSpec{"cancel", "cancel a job on a cluster (--help)", cancel_command});
SLUICE_COMMAND(CommandSpec{
    "stop", "stop a job on a cluster, with a savepoint or draining it (--help)", stop_command});
SLUICE_COMMAND(CommandSpec{"rescale", "rescale a job on a cluster to another parallelism (--help)",
                           rescale_command});
SLUICE_COMMAND(CommandSpec{"savepoint", "take a savepoint of a job on a cluster (--help)",
                           savepoint_command});
SLUICE_COMMAND(CommandSpec{"checkpoint", "checkpoint a job on a cluster now (--help)",
                           checkpoint_command});

}  // namespace
}  // namespace sluice
