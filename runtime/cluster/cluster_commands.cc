// The cluster's command line: `sluice jobmanager`, `sluice taskmanager`
// (servers that run until SIGINT or SIGTERM) and the client commands
// `submit`, `list`, `cancel` and `checkpoint`, which talk to a job manager.
#include <csignal>
#include <cstdio>
#include <thread>

#include <fmt/format.h>

#include "runtime/cli/cli.h"
#include "runtime/job/registry.h"
#include "runtime/cli/run_options.h"
#include "runtime/cluster/cluster.pb.h"
#include "runtime/cluster/job_manager.h"
#include "runtime/cluster/rpc.h"
#include "runtime/cluster/task_manager.h"
#include "runtime/core/logging.h"

namespace sluice {
namespace {

constexpr std::chrono::milliseconds kClientTimeout{10000};

std::atomic<bool> g_stop{false};
void on_stop_signal(int) { g_stop.store(true); }

void stop_on_signals() {
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
}

uint16_t parse_port(const std::string& option, const std::string& text) {
  int port = -1;
  try {
    size_t used = 0;
    port = std::stoi(text, &used);
    if (used != text.size()) port = -1;
  } catch (const std::exception&) {
    port = -1;
  }
  if (port < 0 || port > 65535) throw UsageError(option + ": '" + text + "' is not a port (0-65535)");
  return static_cast<uint16_t>(port);
}

// Prints the port the server listens on as stdout's first line, for scripts.
void announce_port(uint16_t port) {
  fmt::print("{}\n", port);
  std::fflush(stdout);
}

const char* const kJobManagerUsage =
    "usage: sluice jobmanager --port P [options]\n"
    "\n"
    "Runs a job manager until SIGINT or SIGTERM. Prints the port it listens on.\n"
    "\n"
    "options:\n"
    "  --port P                 port to listen on (0: any free port)\n"
    "  --bind HOST              address to listen on (default 0.0.0.0)\n"
    "  --checkpoint-dir DIR     default checkpoint storage of jobs, and where jobs are recorded;\n"
    "                           a job manager that restarts resumes the jobs it finds there\n"
    "  --heartbeat-interval D   how often task managers report (default 1s)\n"
    "  --heartbeat-timeout D    a task manager silent for D is lost (default 10s)\n"
    "  --log-level LEVEL        debug, info (default), warn or error\n";

int jobmanager_command(const std::vector<std::string>& args) {
  JobManagerOptions options;
  std::string log_level = "info";
  bool port_given = false;
  ArgCursor cursor(args);
  while (!cursor.done()) {
    const std::string& arg = cursor.next();
    std::string option = arg.substr(0, arg.find('='));
    if (option == "--help" || option == "-h") {
      fmt::print("{}", kJobManagerUsage);
      return kExitOk;
    } else if (option == "--port") {
      options.port = parse_port(option, cursor.value(option, arg));
      port_given = true;
    } else if (option == "--bind") {
      options.bind_host = cursor.value(option, arg);
    } else if (option == "--checkpoint-dir") {
      options.checkpoint_dir = cursor.value(option, arg);
    } else if (option == "--heartbeat-interval") {
      options.heartbeat_interval = parse_positive_duration(option, cursor.value(option, arg));
    } else if (option == "--heartbeat-timeout") {
      options.heartbeat_timeout = parse_positive_duration(option, cursor.value(option, arg));
    } else if (option == "--log-level") {
      log_level = cursor.value(option, arg);
    } else {
      throw UsageError("jobmanager: unknown option '" + arg + "' (see sluice jobmanager --help)");
    }
  }
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
  return jobmanager.run(g_stop);
}

const char* const kTaskManagerUsage =
    "usage: sluice taskmanager --jobmanager HOST:PORT --slots N [options]\n"
    "\n"
    "Runs a task manager until SIGINT or SIGTERM. Prints its data port.\n"
    "\n"
    "options:\n"
    "  --jobmanager HOST:PORT   the job manager to register with\n"
    "  --slots N                task slots (default 1)\n"
    "  --id NAME                unique name (default HOST-PID)\n"
    "  --host HOST              address other task managers reach this one at (default 127.0.0.1)\n"
    "  --bind ADDRESS           address the data port listens on (default 0.0.0.0)\n"
    "  --data-port P            data port (default 0: any free port)\n"
    "  --log-level LEVEL        debug, info (default), warn or error\n";

int taskmanager_command(const std::vector<std::string>& args) {
  TaskManagerOptions options;
  std::string log_level = "info";
  ArgCursor cursor(args);
  while (!cursor.done()) {
    const std::string& arg = cursor.next();
    std::string option = arg.substr(0, arg.find('='));
    if (option == "--help" || option == "-h") {
      fmt::print("{}", kTaskManagerUsage);
      return kExitOk;
    } else if (option == "--jobmanager") {
      auto [host, port] = parse_host_port(option, cursor.value(option, arg));
      options.jobmanager_host = host;
      options.jobmanager_port = port;
    } else if (option == "--slots") {
      options.slots = parse_positive_int(option, cursor.value(option, arg));
    } else if (option == "--id") {
      options.id = cursor.value(option, arg);
    } else if (option == "--host") {
      options.data_host = cursor.value(option, arg);
    } else if (option == "--bind") {
      options.bind_host = cursor.value(option, arg);
    } else if (option == "--data-port") {
      options.data_port = parse_port(option, cursor.value(option, arg));
    } else if (option == "--log-level") {
      log_level = cursor.value(option, arg);
    } else {
      throw UsageError("taskmanager: unknown option '" + arg + "' (see sluice taskmanager --help)");
    }
  }
  if (options.jobmanager_host.empty()) throw UsageError("taskmanager: missing --jobmanager HOST:PORT");
  log::set_level(log_level);
  stop_on_signals();
  TaskManager taskmanager(options);
  announce_port(taskmanager.data_port());
  return taskmanager.run(g_stop);
}

// Client commands: the job manager's address plus the rest of the arguments.
struct ClientArgs {
  std::string host;
  uint16_t port = 0;
  bool wait = false;
  bool help = false;
  std::vector<std::string> rest;
};

ClientArgs parse_client_args(const std::string& command, const std::vector<std::string>& args,
                             bool accepts_wait) {
  ClientArgs parsed;
  ArgCursor cursor(args);
  while (!cursor.done()) {
    const std::string& arg = cursor.next();
    std::string option = arg.substr(0, arg.find('='));
    if (option == "--jobmanager") {
      std::tie(parsed.host, parsed.port) = parse_host_port(option, cursor.value(option, arg));
    } else if (option == "--wait" && accepts_wait) {
      parsed.wait = true;
    } else if (option == "--help" || option == "-h") {
      parsed.help = true;
    } else {
      parsed.rest.push_back(arg);
    }
  }
  if (!parsed.help && parsed.host.empty()) {
    throw UsageError(command + ": missing --jobmanager HOST:PORT");
  }
  return parsed;
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
int poll_for_end(const ClientArgs& args, const std::string& job, std::chrono::minutes give_up_after) {
  auto last_contact = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - last_contact < give_up_after) {
    try {
      RpcClient client(args.host, args.port, kClientTimeout);
      pb::Envelope request;
      request.mutable_list_jobs();
      pb::Envelope reply = client.call(request, kClientTimeout);
      last_contact = std::chrono::steady_clock::now();
      for (const pb::JobInfo& info : reply.job_list().jobs()) {
        bool ended = info.state() == "finished" || info.state() == "failed" ||
                     info.state() == "cancelled";
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

const char* const kSubmitUsage =
    "usage: sluice submit TOPOLOGY --jobmanager HOST:PORT [job options] [--wait]\n"
    "\n"
    "Submits a job and prints its id. With --wait, stays until the job ends, also\n"
    "across a restart of the job manager: exit 0 when it finished, 1 with the reason\n"
    "when it failed or was cancelled. Job options\n"
    "are those of `sluice run` (see sluice run --help); --checkpoint-dir defaults to\n"
    "the job manager's.\n";

int submit_command(const std::vector<std::string>& args) {
  ClientArgs parsed = parse_client_args("submit", args, /*accepts_wait=*/true);
  if (parsed.help) {
    fmt::print("{}", kSubmitUsage);
    return kExitOk;
  }
  if (parsed.rest.empty() || parsed.rest.front().rfind("-", 0) == 0) {
    throw UsageError("submit: missing TOPOLOGY (see sluice topologies)");
  }
  pb::Envelope request;
  pb::SubmitJob& submit = *request.mutable_submit_job();
  submit.mutable_spec()->set_topology(parsed.rest.front());
  for (size_t i = 1; i < parsed.rest.size(); ++i) submit.mutable_spec()->add_args(parsed.rest[i]);
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
  ClientArgs parsed = parse_client_args("list", args, false);
  if (parsed.help || !parsed.rest.empty()) {
    if (!parsed.help) throw UsageError("list: unexpected argument '" + parsed.rest.front() + "'");
    fmt::print("usage: sluice list --jobmanager HOST:PORT\n\nLists the cluster's jobs.\n");
    return kExitOk;
  }
  pb::Envelope request;
  request.mutable_list_jobs();
  RpcClient client(parsed.host, parsed.port, kClientTimeout);
  pb::Envelope reply = client.call(request, kClientTimeout);
  throw_if_refused(reply);
  fmt::print("{:<28} {:<10} {:>7} {:>15}  {}\n", "JOB", "STATE", "ATTEMPT", "LAST CHECKPOINT", "MESSAGE");
  for (const pb::JobInfo& job : reply.job_list().jobs()) {
    fmt::print("{:<28} {:<10} {:>7} {:>15}  {}\n", job.job(), job.state(), job.attempt(),
               job.last_checkpoint(), job.message());
  }
  return kExitOk;
}

int taskmanagers_command(const std::vector<std::string>& args) {
  ClientArgs parsed = parse_client_args("taskmanagers", args, false);
  if (parsed.help || !parsed.rest.empty()) {
    if (!parsed.help) {
      throw UsageError("taskmanagers: unexpected argument '" + parsed.rest.front() + "'");
    }
    fmt::print(
        "usage: sluice taskmanagers --jobmanager HOST:PORT\n\n"
        "Lists the task managers registered with the job manager: their data address,\n"
        "slots, free slots and the age of their last heartbeat.\n");
    return kExitOk;
  }
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

// Parses "COMMAND JOB --jobmanager HOST:PORT".
std::pair<ClientArgs, std::string> parse_job_command(const std::string& command,
                                                     const std::vector<std::string>& args) {
  ClientArgs parsed = parse_client_args(command, args, false);
  if (parsed.help) return {parsed, ""};
  if (parsed.rest.size() != 1 || parsed.rest.front().rfind("-", 0) == 0) {
    throw UsageError(command + ": expected one JOB (see sluice list)");
  }
  return {parsed, parsed.rest.front()};
}

int cancel_command(const std::vector<std::string>& args) {
  auto [parsed, job] = parse_job_command("cancel", args);
  if (parsed.help) {
    fmt::print("usage: sluice cancel JOB --jobmanager HOST:PORT\n\nCancels a job.\n");
    return kExitOk;
  }
  pb::Envelope request;
  request.mutable_cancel_job()->set_job(job);
  RpcClient client(parsed.host, parsed.port, kClientTimeout);
  pb::Envelope reply = client.call(request, kClientTimeout);
  throw_if_refused(reply);
  fmt::print("{} {}\n", job, reply.job_status().state());
  return kExitOk;
}

int checkpoint_command(const std::vector<std::string>& args) {
  auto [parsed, job] = parse_job_command("checkpoint", args);
  if (parsed.help) {
    fmt::print(
        "usage: sluice checkpoint JOB --jobmanager HOST:PORT\n\n"
        "Takes a checkpoint of a running job now and prints its path.\n");
    return kExitOk;
  }
  pb::Envelope request;
  request.mutable_trigger_checkpoint()->set_job(job);
  RpcClient client(parsed.host, parsed.port, kClientTimeout);
  pb::Envelope reply = client.call(request, std::chrono::minutes(10));
  throw_if_refused(reply);
  if (!reply.checkpoint_reply().error().empty()) {
    fmt::print(stderr, "sluice: checkpoint: {}\n", reply.checkpoint_reply().error());
    return kExitJobFailed;
  }
  fmt::print("{}\n", reply.checkpoint_reply().path());
  return kExitOk;
}

SLUICE_COMMAND(CommandSpec{"jobmanager", "run a job manager (--help)", jobmanager_command});
SLUICE_COMMAND(CommandSpec{"taskmanager", "run a task manager (--help)", taskmanager_command});
SLUICE_COMMAND(CommandSpec{"submit", "submit a job to a job manager (--help)", submit_command});
SLUICE_COMMAND(CommandSpec{"list", "list a cluster's jobs (--help)", list_command});
SLUICE_COMMAND(CommandSpec{"taskmanagers", "list a cluster's task managers (--help)",
                           taskmanagers_command});
SLUICE_COMMAND(CommandSpec{"cancel", "cancel a job on a cluster (--help)", cancel_command});
SLUICE_COMMAND(CommandSpec{"checkpoint", "checkpoint a job on a cluster now (--help)",
                           checkpoint_command});

}  // namespace
}  // namespace sluice
