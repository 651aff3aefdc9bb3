// `sluice bench nexmark`: runs one Nexmark query on the in-process generator
// and prints one JSON line with throughput, CPU time, peak memory and
// end-to-end latency percentiles (ingestion at the source to arrival at the
// sink, through every window and join of the query).
#include <sys/resource.h>

#include <charconv>
#include <chrono>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runtime/checkpoint/checkpoint_config.h"
#include "runtime/cli/command_line.h"
#include "runtime/cli/commands.h"
#include "runtime/core/logging.h"
#include "runtime/executor/local_executor.h"
#include "runtime/job/state_dir.h"
#include "topologies/nexmark/nexmark_job.h"
#include "topologies/nexmark/queries.h"

namespace sluice::nexmark {
namespace {

struct BenchOptions {
  NexmarkJob job;
  int parallelism = 1;
  StateBackendKind state = StateBackendKind::kMemory;
  DurationMs checkpoint_interval = 0;  // 0: none
  BatchConfig batches;
  bool help = false;
};

BenchOptions parse_bench_options(const std::vector<std::string>& args) {
  BenchOptions options;
  if (args.empty() || args[0] != "nexmark") {
    if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
      fmt::print("usage: sluice bench nexmark [OPTIONS]\n\nBenchmarks: nexmark.\n");
      options.help = true;
      return options;
    }
    throw UsageError("bench: the only benchmark is 'nexmark' (see sluice bench nexmark --help)");
  }
  CommandLine line("bench nexmark",
                   "Runs one Nexmark query on generated events (rows are discarded) and prints "
                   "one JSON line: query, events, parallelism, wall_seconds, events_per_second, "
                   "cpu_seconds, events_per_cpu_second, peak_rss_bytes, results, "
                   "context_switches_per_million_events, latency_ms {p50, p99, p999, p9999}.");
  line.text("--query", options.job.query, "q0, q1, q2, q3, q4, q5, q7, q8 or q11")
      ->type_name("QUERY")
      ->required();
  int64_t events = 0;
  line.count("--events", events, "events to generate")->required();
  line.count("--parallelism", options.parallelism, "default 1");
  line.count("--rate", options.job.generator.rate,
             "events per second of event time (default 10000000)");
  line.choice("--state", options.state,
              {{"memory", StateBackendKind::kMemory}, {"rocksdb", StateBackendKind::kRocksDb}},
              "state backend", "state backend (default memory)");
  line.duration("--checkpoint-interval", options.checkpoint_interval,
                "take checkpoints (to a temporary directory) every D");
  int64_t throughput = 0;
  line.count("--throughput", throughput,
             "release N events per second (processing time); latency then counts from each "
             "event's release");
  line.choice("--mode", options.batches.enabled, {{"continuous", false}, {"microbatch", true}},
              "mode", "execution mode (default continuous)");
  CLI::Option* trigger = line.duration("--trigger", options.batches.interval,
                                       "microbatch: a batch every D (default: back to back)");
  int64_t max_records = 0;
  line.count("--max-records-per-batch", max_records, "microbatch: records per split and batch");
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (!line.parse(rest)) {
    options.help = true;
    return options;
  }
  options.job.events = static_cast<uint64_t>(events);
  options.job.throughput = static_cast<double>(throughput);
  options.batches.max_records = static_cast<uint64_t>(max_records);
  if (trigger->count() > 0) options.batches.trigger = BatchTrigger::kInterval;
  return options;
}

// "continuous", "microbatch" (back to back) or "microbatch-D".
std::string mode_name(const BenchOptions& options) {
  if (!options.batches.enabled) return "continuous";
  if (options.batches.trigger != BatchTrigger::kInterval) return "microbatch";
  return "microbatch-" + format_duration(options.batches.interval);
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Voluntary and involuntary, over every thread of the process.
int64_t context_switches() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_nvcsw) + static_cast<int64_t>(usage.ru_nivcsw);
}

int64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}

int run_bench(const std::vector<std::string>& args) {
  BenchOptions options = parse_bench_options(args);
  if (options.help) return 0;
  log::set_level("warn");
  options.job.latency = std::make_shared<LatencyRecorder>();
  Topology topology("nexmark-" + options.job.query);
  build_nexmark(topology, options.job);

  LocalJobOptions run;
  run.plan.job_name = topology.name();
  run.plan.parallelism = options.parallelism;
  JobStateDirectory state_dir("");
  run.plan.state_backend.kind = options.state;
  run.plan.state_backend.rocksdb.directory = state_dir.path();
  JobStateDirectory checkpoint_dir("");
  if (options.checkpoint_interval > 0 || options.batches.enabled) {
    run.checkpoint.directory = checkpoint_dir.path();
    run.checkpoint.interval = options.checkpoint_interval;
    run.checkpoint.batches = options.batches;
  }
  double cpu_before = cpu_seconds();
  int64_t switches_before = context_switches();
  JobResult result = run_local(topology.graph(), run);
  double cpu = cpu_seconds() - cpu_before;
  auto switches = static_cast<double>(context_switches() - switches_before);
  if (result.failure) {
    fmt::print(stderr, "sluice: bench failed: {}\n", result.failure->message);
    return 1;
  }
  LatencyHistogram latency = options.job.latency->histogram();
  auto ms = [&](double q) { return static_cast<double>(latency.quantile_us(q)) / 1000.0; };
  auto events = static_cast<double>(options.job.events);
  auto rounded = [](double value, double scale) { return std::round(value * scale) / scale; };
  nlohmann::ordered_json line = {
      {"query", options.job.query},
      {"events", options.job.events},
      {"parallelism", options.parallelism},
      {"state", options.state == StateBackendKind::kRocksDb ? "rocksdb" : "memory"},
      {"mode", mode_name(options)},
      {"checkpoints", result.checkpoints_completed},
      {"wall_seconds", rounded(result.wall_seconds, 1000)},
      {"events_per_second", std::llround(events / result.wall_seconds)},
      {"cpu_seconds", rounded(cpu, 1000)},
      {"events_per_cpu_second", std::llround(events / cpu)},
      {"peak_rss_bytes", peak_rss_bytes()},
      {"results", result.records_out},
      {"context_switches_per_million_events", std::llround(switches * 1e6 / events)},
      {"latency_ms",
       {{"p50", ms(0.5)}, {"p99", ms(0.99)}, {"p999", ms(0.999)}, {"p9999", ms(0.9999)}}}};
  fmt::print("{}\n", line.dump());
  return 0;
}

SLUICE_COMMAND(CommandSpec{"bench", "run a benchmark (bench nexmark --help)", run_bench});

}  // namespace
}  // namespace sluice::nexmark
