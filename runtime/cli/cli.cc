#include "runtime/cli/cli.h"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "runtime/checkpoint/restore.h"
#include "runtime/cli/job_setup.h"
#include "runtime/cli/registry.h"
#include "runtime/cli/run_options.h"
#include "runtime/cli/state_dir.h"
#include "runtime/core/logging.h"
#include "runtime/task/local_executor.h"

namespace sluice {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitJobFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitInterrupted = 130;

std::string main_usage() {
  std::string usage =
      "usage: sluice COMMAND [options]\n"
      "\n"
      "commands:\n"
      "  run TOPOLOGY [options]   run a job on the embedded local cluster\n"
      "  topologies               list the registered topologies and their parameters\n";
  for (const CommandSpec* spec : CommandRegistry::instance().all()) {
    usage += fmt::format("  {:<24} {}\n", spec->name + " ...", spec->summary);
  }
  usage +=
      "  help                     this text\n"
      "\n"
      "`sluice COMMAND --help` describes a command.\n";
  return usage;
}

const char* const kTopologiesUsage =
    "usage: sluice topologies\n"
    "\n"
    "Lists the registered topologies with their parameters and defaults.\n";

std::atomic<bool> g_interrupted{false};

void on_signal(int) { g_interrupted.store(true); }

void print_progress(const ProgressSample& s) {
  std::string line = fmt::format(
      "[{:7.1f}s] in {:>12.0f} rec/s  out {:>10.0f} rec/s  total in {}  out {}  watermark {}",
      s.elapsed_seconds, s.in_per_second, s.out_per_second, s.records_in, s.records_out,
      format_timestamp(s.watermark));
  if (isatty(STDERR_FILENO)) {
    fmt::print(stderr, "\r{}\033[K", line);
  } else {
    fmt::print(stderr, "{}\n", line);
  }
  std::fflush(stderr);
}

void print_summary(const JobResult& result, bool progress) {
  if (progress && isatty(STDERR_FILENO)) fmt::print(stderr, "\n");
  double rate = result.wall_seconds > 0 ? static_cast<double>(result.records_in) /
                                              result.wall_seconds
                                        : 0.0;
  fmt::print(stderr, "job {} in {:.2f} s: {} records in ({:.0f}/s), {} records out\n",
             result.succeeded ? "finished" : (result.cancelled ? "cancelled" : "failed"),
             result.wall_seconds, result.records_in, rate, result.records_out);
  if (result.checkpoints_completed > 0) {
    fmt::print(stderr, "  {} checkpoints completed, the last one {}\n", result.checkpoints_completed,
               result.last_checkpoint_id);
  }
  if (result.late_dropped > 0) {
    fmt::print(stderr, "  {} late records dropped (no late-data output configured)\n",
               result.late_dropped);
  }
  for (const std::string& note : result.notes) fmt::print(stderr, "  {}\n", note);
}

int run_command(const std::vector<std::string>& args) {
  RunOptions options = parse_run_options(args);
  if (options.help) {
    fmt::print("{}", kRunUsage);
    return kExitOk;
  }
  log::set_level(options.log_level);
  JobDefinition definition = build_job(options);
  const TopologySpec* spec = definition.spec;
  options.plan.job_name = spec->name;
  JobStateDirectory state_dir(options.state_dir);
  options.plan.state_backend.rocksdb.directory = state_dir.path();
  std::optional<RestorePoint> restore;
  if (!options.restore.empty()) {
    restore = find_restore_point(options.checkpoint.directory, spec->name, options.restore);
    for (const std::string& w : restore->warnings) log::cli()->warn("{}", w);
    log::cli()->info("restoring checkpoint {}", restore->metadata.id);
    options.plan.restore = &restore->operators;
  }
  LocalJobOptions job;
  job.plan = options.plan;
  job.checkpoint = options.checkpoint;
  if (restore) job.last_checkpoint_id = restore->metadata.id;
  job.cancel_flag = &g_interrupted;
  if (options.progress) job.on_progress = print_progress;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  RecoveryResult recovery = run_with_restarts(definition.graph(), job, options.restart);
  const JobResult& result = recovery.last;
  print_summary(result, options.progress);
  if (recovery.restarts > 0) fmt::print(stderr, "  restarted {} times\n", recovery.restarts);
  if (result.failure) {
    fmt::print(stderr, "sluice: job failed: {}\n", result.failure->message);
    return result.failure->kind == ErrorKind::kUsage ? kExitUsage : kExitJobFailed;
  }
  return result.cancelled ? kExitInterrupted : kExitOk;
}

int topologies_command(const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-h") {
      fmt::print("{}", kTopologiesUsage);
      return kExitOk;
    }
    throw UsageError("topologies: unexpected argument '" + arg + "'");
  }
  for (const TopologySpec* spec : TopologyRegistry::instance().all()) {
    fmt::print("{}\n    {}\n", spec->name, spec->description);
    for (const ParamSpec& p : spec->params) {
      std::string detail = p.required ? "required"
                                      : (p.default_value.empty() ? "optional"
                                                                 : "default " + p.default_value);
      fmt::print("    --set {}=...  {} ({})\n", p.name, p.description, detail);
    }
    fmt::print("\n");
  }
  return kExitOk;
}

}  // namespace

int cli_main(int argc, char** argv) {
  // A closed stdout (`sluice run ... | head`) is an I/O error for the sink
  // to report, not a signal that kills the process.
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    fmt::print(stderr, "{}", main_usage());
    return kExitUsage;
  }
  std::string command = args.front();
  args.erase(args.begin());
  try {
    if (command == "run") return run_command(args);
    if (command == "topologies") return topologies_command(args);
    if (command == "help" || command == "--help" || command == "-h") {
      fmt::print("{}", main_usage());
      return kExitOk;
    }
    if (const CommandSpec* spec = CommandRegistry::instance().find(command)) {
      return spec->run(args);
    }
    throw UsageError("unknown command '" + command + "' (see sluice help)");
  } catch (const UsageError& e) {
    fmt::print(stderr, "sluice: {}\n", e.what());
    return kExitUsage;
  } catch (const SluiceError& e) {
    fmt::print(stderr, "sluice: {}\n", e.what());
    return e.kind() == ErrorKind::kUsage ? kExitUsage : kExitJobFailed;
  } catch (const std::exception& e) {
    fmt::print(stderr, "sluice: {}\n", e.what());
    return kExitJobFailed;
  }
}

}  // namespace sluice
