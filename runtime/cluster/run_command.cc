// `sluice run`: a job on the embedded local cluster (runtime/cluster/
// local_cluster.h), which runs it with the cluster's own job manager and
// task manager code. Progress lines and the end-of-job summary go to stderr.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>

#include <fmt/format.h>

#include "runtime/cli/cli.h"
#include "runtime/cli/commands.h"
#include "runtime/cli/run_options.h"
#include "runtime/cluster/local_cluster.h"
#include "runtime/core/logging.h"
#include "runtime/job/job_setup.h"
#include "runtime/job/registry.h"

namespace sluice {
namespace {

std::atomic<int> g_signals{0};

void on_signal(int) {
  g_signals.fetch_add(1);
}

void print_progress(const ProgressSample& s) {
  std::string line = fmt::format(
      "[{:7.1f}s] in {:>12.0f} rec/s  out {:>10.0f} rec/s  total in {}  out {}  watermark {}",
      s.elapsed_seconds, s.in_per_second, s.out_per_second, s.records_in, s.records_out,
      format_timestamp(s.watermark));
  if (s.event_time_lag) line += fmt::format("  lag {:.1f} s", *s.event_time_lag / 1000.0);
  if (isatty(STDERR_FILENO)) {
    fmt::print(stderr, "\r{}\033[K", line);
  } else {
    fmt::print(stderr, "{}\n", line);
  }
  std::fflush(stderr);
}

void print_summary(const JobResult& result, bool progress) {
  if (progress && isatty(STDERR_FILENO)) fmt::print(stderr, "\n");
  double rate =
      result.wall_seconds > 0 ? static_cast<double>(result.records_in) / result.wall_seconds : 0.0;
  fmt::print(stderr, "job {} in {:.2f} s: {} records in ({:.0f}/s), {} records out\n",
             result.succeeded ? "finished" : (result.cancelled ? "cancelled" : "failed"),
             result.wall_seconds, result.records_in, rate, result.records_out);
  if (result.checkpoints_completed > 0) {
    fmt::print(stderr, "  {} checkpoints completed, the last one {}\n",
               result.checkpoints_completed, result.last_checkpoint_id);
  }
  if (result.late_dropped > 0) {
    fmt::print(stderr, "  {} late records dropped (no late-data output configured)\n",
               result.late_dropped);
  }
  if (result.async_timeouts > 0 || result.async_failures > 0) {
    fmt::print(stderr, "  asynchronous requests: {} timed out, {} failed (each issued again)\n",
               result.async_timeouts, result.async_failures);
  }
  for (const std::string& note : result.notes) fmt::print(stderr, "  {}\n", note);
}

int run_command(const std::vector<std::string>& args) {
  RunOptions options = parse_run_options(args);
  if (options.help) return kExitOk;
  log::set_level(options.log_level);
  LocalClusterJob job;
  job.slots = lay_out_job(options).slots;  // also checks the topology and its options
  job.name = options.topology;
  job.spec.set_topology(options.topology);
  for (const std::string& arg : options.job_args) job.spec.add_args(arg);
  job.signals = &g_signals;
  job.on_signal = options.on_signal;
  job.rest_port = options.rest_port;
  if (options.progress) job.on_progress = print_progress;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  LocalClusterResult run = run_on_local_cluster(job);
  const JobResult& result = run.job;
  print_summary(result, options.progress);
  if (run.restarts > 0) fmt::print(stderr, "  restarted {} times\n", run.restarts);
  if (!result.savepoint.empty()) {
    fmt::print(stderr, "  stopped with a savepoint: resume with --restore {}\n", result.savepoint);
  }
  if (result.failure) {
    fmt::print(stderr, "sluice: job failed: {}\n", result.failure->message);
    return result.failure->kind == ErrorKind::kUsage ? kExitUsage : kExitJobFailed;
  }
  return result.cancelled ? kExitInterrupted : kExitOk;
}

SLUICE_COMMAND(CommandSpec{"run", "run a job on the embedded local cluster (--help)", run_command});

}  // namespace
}  // namespace sluice
