#include "runtime/cli/run_options.h"

#include <optional>

#include "runtime/core/errors.h"

namespace sluice {
namespace {

void add_param(RunOptions& options, const std::string& assignment) {
  size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw UsageError("--set expects KEY=VALUE, got '" + assignment + "'");
  }
  options.params[assignment.substr(0, eq)] = assignment.substr(eq + 1);
}

// A positive number of MiB, in bytes.
size_t parse_mebibytes(const std::string& option, const std::string& text) {
  return static_cast<size_t>(parse_positive_int(option, text)) << 20;
}

void set_trigger(BatchConfig& batches, const std::string& trigger) {
  if (trigger == "once") {
    batches.trigger = BatchTrigger::kOnce;
  } else if (trigger == "available-now") {
    batches.trigger = BatchTrigger::kAvailableNow;
  } else {
    std::optional<DurationMs> interval = parse_duration(trigger);
    if (!interval || *interval <= 0) {
      throw UsageError("--trigger: '" + trigger +
                       "' is not a positive duration (like 1s), once or available-now");
    }
    batches.trigger = BatchTrigger::kInterval;
    batches.interval = *interval;
  }
}

void add_state_options(CommandLine& line, RunOptions& options) {
  StateBackendConfig& state = options.plan.state_backend;
  line.choice("--state", state.kind,
              {{"memory", StateBackendKind::kMemory}, {"rocksdb", StateBackendKind::kRocksDb}},
              "state backend", "state backend (default memory)");
  line.text("--state-dir", options.state_dir,
            "rocksdb working directory (default: a temporary one)")
      ->type_name("DIR");
  line.byte_size("--state-memory", state.rocksdb.shared_memory_bytes,
                 "rocksdb: one block cache and memtable budget that every operator subtask of "
                 "the process shares (like 512m or 2g); without it each has its own");
  line.parsed("--rocksdb-block-cache-mb", state.rocksdb.block_cache_bytes, parse_mebibytes, "N",
              "block cache per operator subtask (default 32)");
  line.parsed("--rocksdb-write-buffer-mb", state.rocksdb.write_buffer_bytes, parse_mebibytes, "N",
              "memtables per operator subtask (default 16)");
  line.count("--rocksdb-write-cache-entries", state.rocksdb.write_cache_entries,
             "decoded entries each state keeps in its write cache before writing them to "
             "RocksDB (default 16384)");
  line.choice("--rocksdb-incremental", state.incremental_checkpoints,
              {{"true", true}, {"false", false}}, "boolean",
              "checkpoints share unchanged SST files (default true); false writes full, "
              "backend-portable snapshots");
}

void add_batch_options(CommandLine& line, RunOptions& options) {
  BatchConfig& batches = options.checkpoint.batches;
  line.choice("--mode", batches.enabled, {{"continuous", false}, {"microbatch", true}}, "mode",
              "record by record (default), or in batches");
  line.app()
      .add_option_function<std::string>(
          "--trigger", [&batches](const std::string& text) { set_trigger(batches, text); },
          "microbatch: when batches start: D (every D, like 1s), once, or available-now "
          "(default: back to back)")
      ->type_name("T");
  line.parsed("--max-records-per-batch", batches.max_records, parse_positive_count, "N",
              "microbatch: records per split and batch (default: all)");
}

void add_checkpoint_options(CommandLine& line, RunOptions& options) {
  CheckpointConfig& checkpoint = options.checkpoint;
  line.text("--checkpoint-dir", checkpoint.directory,
            "checkpoint storage (checkpoints go to DIR/TOPOLOGY/chk-N)")
      ->type_name("DIR");
  line.duration("--checkpoint-interval", checkpoint.interval,
                "take a checkpoint every D (like 200ms, 5s)");
  line.duration("--checkpoint-timeout", checkpoint.timeout,
                "abort a checkpoint that takes longer (default 10m)");
  line.choice("--checkpoint-mode", options.plan.unaligned_checkpoints,
              {{"aligned", false}, {"unaligned", true}}, "checkpoint mode",
              "aligned (default) or unaligned: barriers overtake the buffered records, which "
              "are stored with the checkpoint (restores only at the same parallelism)");
  line.count("--checkpoints-retained", checkpoint.retained,
             "complete checkpoints kept (default 3)");
  line.text("--restore", options.restore,
            "resume from the newest intact checkpoint (latest), or from PATH")
      ->type_name("latest|PATH");
  line.flag("--allow-non-restored-state", options.allow_non_restored_state,
            "restore even when the checkpoint holds state of operators the topology no longer "
            "has (that state is dropped)");
}

void add_restart_options(CommandLine& line, RunOptions& options) {
  RestartStrategy& restart = options.restart;
  line.app()
      .add_option_function<std::string>(
          "--restart-strategy",
          [&options](const std::string& text) {
            options.restart.kind = parse_restart_kind(text);
            options.restart_given = true;
          },
          "none, fixed-delay or exponential-backoff (default: fixed-delay with checkpoints, "
          "none without)")
      ->type_name("S");
  line.count("--restart-attempts", restart.max_attempts,
             "restarts before the job fails (default 3)");
  line.duration("--restart-delay", restart.delay,
                "wait before a restart (default 1s; doubles with backoff)");
  line.duration("--restart-max-delay", restart.max_delay, "cap of the backoff (default 1m)");
}

void check_batch_options(const RunOptions& options) {
  const BatchConfig& batches = options.checkpoint.batches;
  bool trigger_given = batches.trigger != BatchTrigger::kBackToBack;
  if (!batches.enabled) {
    if (trigger_given || batches.max_records > 0) {
      throw UsageError(std::string(trigger_given ? "--trigger" : "--max-records-per-batch") +
                       " needs --mode microbatch");
    }
    return;
  }
  if (options.checkpoint.directory.empty()) {
    throw UsageError(
        "--mode microbatch needs --checkpoint-dir (its offset and commit logs live there)");
  }
  if (options.checkpoint.interval > 0) {
    throw UsageError(
        "--checkpoint-interval does not apply to --mode microbatch: every batch is a "
        "checkpoint (see --trigger)");
  }
  if (options.plan.unaligned_checkpoints) {
    throw UsageError(
        "--checkpoint-mode unaligned does not apply to --mode microbatch: a batch's barrier "
        "follows its records");
  }
  if (options.plan.watermark_alignment > 0) {
    throw UsageError(
        "--watermark-alignment does not apply to --mode microbatch: a batch reads planned "
        "slices");
  }
}

}  // namespace

void add_job_options(CommandLine& line, RunOptions& options) {
  line.app()
      .add_option_function<std::vector<std::string>>(
          "--set",
          [&options](const std::vector<std::string>& assignments) {
            for (const std::string& assignment : assignments) add_param(options, assignment);
          },
          "topology parameter (repeatable; see `sluice topologies`)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  line.count("--parallelism", options.plan.parallelism,
             "default parallelism of every operator (default 1)");
  line.count("--max-parallelism", options.plan.max_parallelism,
             "number of key groups (default 128)");
  add_state_options(line, options);
  add_batch_options(line, options);
  add_checkpoint_options(line, options);
  line.duration("--watermark-alignment", options.plan.watermark_alignment,
                "a source whose watermark is more than D ahead of the slowest source's stops "
                "reading until it catches up");
  add_restart_options(line, options);
  line.count("--channel-capacity", options.plan.channel_capacity,
             "batches buffered per channel (default 8)");
  line.duration("--buffer-debloat-target", options.plan.buffer_debloat_target,
                "channels hold about D of records at the rate their consumer takes them "
                "(within the capacity), so aligned checkpoints wait about D under "
                "backpressure");
  line.flag("--progress", options.progress, "print a progress line every second");
  line.text("--log-level", options.log_level, "debug, info, warn (default) or error")
      ->type_name("LEVEL");
}

void finish_job_options(RunOptions& options) {
  check_batch_options(options);
  options.plan.micro_batch = options.checkpoint.batches.enabled;
  if (!options.restart_given && options.checkpoint.enabled()) {
    options.restart.kind = RestartStrategy::Kind::kFixedDelay;
  }
  if (options.checkpoint.interval > 0 && options.checkpoint.directory.empty()) {
    throw UsageError("--checkpoint-interval needs --checkpoint-dir");
  }
  if (!options.restore.empty() && options.checkpoint.directory.empty() &&
      options.restore == "latest") {
    throw UsageError("--restore latest needs --checkpoint-dir");
  }
}

RunOptions parse_run_options(const std::vector<std::string>& args) {
  RunOptions options;
  CommandLine line("run", "Runs a topology on the embedded local cluster until its sources end.");
  add_job_options(line, options);
  line.parsed("--rest-port", options.rest_port, parse_port_or_off, "P|off",
              "serve the REST API, the dashboard and /metrics while the job runs (0: any free "
              "port; default off)");
  line.choice("--on-sigterm", options.on_signal,
              {{"cancel", SignalAction::kCancel},
               {"drain", SignalAction::kDrain},
               {"stop", SignalAction::kStop}},
              "signal action",
              "what SIGTERM and Ctrl-C do: cancel (default); drain (the sources end now, every "
              "window fires, the output commits); or stop (the sources stop, a savepoint in "
              "<checkpoint dir>/savepoints keeps the state and commits the output); a second "
              "one cancels");
  line.positional("TOPOLOGY", options.topology, "the topology to run (see `sluice topologies`)");
  if (!line.parse(args)) {
    options.help = true;
    return options;
  }
  if (options.topology.empty()) throw UsageError("run: missing TOPOLOGY (see sluice topologies)");
  options.job_args = line.arguments_except(args, {"--rest-port", "--on-sigterm"}, options.topology);
  finish_job_options(options);
  return options;
}

}  // namespace sluice
