#include "runtime/cli/run_options.h"

#include <charconv>
#include <limits>
#include <optional>

#include "runtime/core/errors.h"

namespace sluice {

const char* const kRunUsage =
    "usage: sluice run TOPOLOGY [options]\n"
    "\n"
    "Runs a topology on the embedded local cluster until its sources end.\n"
    "\n"
    "options:\n"
    "  --set KEY=VALUE          topology parameter (repeatable; see `sluice topologies`)\n"
    "  --parallelism N          default parallelism of every operator (default 1)\n"
    "  --max-parallelism N      number of key groups (default 128)\n"
    "  --state memory|rocksdb   state backend (default memory)\n"
    "  --state-dir DIR          rocksdb working directory (default: a temporary one)\n"
    "  --state-memory SIZE      rocksdb: one block cache and memtable budget that every\n"
    "                           operator subtask of the process shares (like 512m or 2g);\n"
    "                           without it each has its own (the two options below)\n"
    "  --rocksdb-block-cache-mb N   block cache per operator subtask (default 32)\n"
    "  --rocksdb-write-buffer-mb N  memtables per operator subtask (default 16)\n"
    "  --rocksdb-write-cache-entries N  decoded entries each state keeps in its write\n"
    "                           cache before writing them to RocksDB (default 16384)\n"
    "  --rocksdb-incremental true|false  checkpoints share unchanged SST files (default\n"
    "                           true); false writes full, backend-portable snapshots\n"
    "  --mode continuous|microbatch  record by record (default), or in batches\n"
    "  --trigger T              microbatch: when batches start: D (every D, like 1s),\n"
    "                           once, or available-now (default: back to back)\n"
    "  --max-records-per-batch N  microbatch: records per split and batch (default: all)\n"
    "  --checkpoint-dir DIR     checkpoint storage (checkpoints go to DIR/TOPOLOGY/chk-N)\n"
    "  --checkpoint-interval D  take a checkpoint every D (like 200ms, 5s)\n"
    "  --checkpoint-timeout D   abort a checkpoint that takes longer (default 10m)\n"
    "  --checkpoint-mode M      aligned (default) or unaligned: barriers overtake the\n"
    "                           buffered records, which are stored with the checkpoint\n"
    "                           (restores only at the same parallelism)\n"
    "  --checkpoints-retained N complete checkpoints kept (default 3)\n"
    "  --watermark-alignment D  a source whose watermark is more than D ahead of the\n"
    "                           slowest source's stops reading until it catches up\n"
    "  --restore latest|PATH    resume from the newest intact checkpoint, or from PATH\n"
    "  --restart-strategy S     none, fixed-delay or exponential-backoff (default: fixed-delay\n"
    "                           with checkpoints, none without)\n"
    "  --restart-attempts N     restarts before the job fails (default 3)\n"
    "  --restart-delay D        wait before a restart (default 1s; doubles with backoff)\n"
    "  --restart-max-delay D    cap of the backoff (default 1m)\n"
    "  --channel-capacity N     batches buffered per channel (default 8)\n"
    "  --buffer-debloat-target D  channels hold about D of records at the rate their\n"
    "                           consumer takes them (within the capacity), so aligned\n"
    "                           checkpoints wait about D under backpressure\n"
    "  --progress               print a progress line every second\n"
    "  --log-level LEVEL        debug, info, warn (default) or error\n"
    "  --help                   this text\n";

namespace {

void add_param(RunOptions& options, const std::string& assignment) {
  size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw UsageError("--set expects KEY=VALUE, got '" + assignment + "'");
  }
  options.params[assignment.substr(0, eq)] = assignment.substr(eq + 1);
}

// --mode, --trigger and --max-records-per-batch; false for other options.
bool parse_batch_option(const std::string& option, const std::string& arg, ArgCursor& cursor,
                        BatchConfig& batches) {
  if (option == "--mode") {
    std::string mode = cursor.value(option, arg);
    if (mode != "continuous" && mode != "microbatch") {
      throw UsageError("--mode: '" + mode + "' is not a mode (continuous, microbatch)");
    }
    batches.enabled = mode == "microbatch";
  } else if (option == "--trigger") {
    std::string trigger = cursor.value(option, arg);
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
  } else if (option == "--max-records-per-batch") {
    batches.max_records = static_cast<uint64_t>(parse_positive_count(option, cursor.value(option, arg)));
  } else {
    return false;
  }
  return true;
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
    throw UsageError("--mode microbatch needs --checkpoint-dir (its offset and commit logs live there)");
  }
  if (options.checkpoint.interval > 0) {
    throw UsageError("--checkpoint-interval does not apply to --mode microbatch: every batch is a checkpoint (see --trigger)");
  }
  if (options.plan.unaligned_checkpoints) {
    throw UsageError("--checkpoint-mode unaligned does not apply to --mode microbatch: a batch's barrier follows its records");
  }
  if (options.plan.watermark_alignment > 0) {
    throw UsageError("--watermark-alignment does not apply to --mode microbatch: a batch reads planned slices");
  }
}

}  // namespace

std::string ArgCursor::value(const std::string& option, const std::string& arg) {
  size_t eq = arg.find('=');
  if (eq != std::string::npos) return arg.substr(eq + 1);
  if (done()) throw UsageError(option + " needs a value");
  return next();
}

DurationMs parse_positive_duration(const std::string& option, const std::string& text) {
  std::optional<DurationMs> d = parse_duration(text);
  if (!d || *d <= 0) {
    throw UsageError(option + ": '" + text + "' is not a positive duration (like 200ms, 5s)");
  }
  return *d;
}

int parse_positive_int(const std::string& option, const std::string& text) {
  int64_t value = parse_positive_count(option, text);
  if (value > std::numeric_limits<int>::max()) {
    throw UsageError(option + ": '" + text + "' is too large");
  }
  return static_cast<int>(value);
}

size_t parse_byte_size(const std::string& option, const std::string& text) {
  auto not_a_size = [&] {
    return UsageError(option + ": '" + text + "' is not a size (a number and k, m or g, like 512m)");
  };
  int shift = 0;
  switch (text.empty() ? '\0' : text.back()) {
    case 'k': shift = 10; break;
    case 'm': shift = 20; break;
    case 'g': shift = 30; break;
    default: throw not_a_size();
  }
  int64_t value = 0;
  const char* end = text.data() + text.size() - 1;
  auto [rest, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || rest != end || value < 1) throw not_a_size();
  if (value > (std::numeric_limits<int64_t>::max() >> shift)) {
    throw UsageError(option + ": '" + text + "' is too large");
  }
  return static_cast<size_t>(value) << shift;
}

int64_t parse_positive_count(const std::string& option, const std::string& text) {
  int64_t value = 0;
  auto [rest, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || rest != text.data() + text.size() || value < 1) {
    throw UsageError(option + ": '" + text + "' is not a positive integer");
  }
  return value;
}

RunOptions parse_run_options(const std::vector<std::string>& args) {
  RunOptions options;
  ArgCursor cursor(args);
  while (!cursor.done()) {
    size_t first = cursor.position();
    std::string arg = cursor.next();
    std::string option = arg.substr(0, arg.find('='));
    bool is_topology = false;
    if (option == "--help" || option == "-h") {
      options.help = true;
    } else if (option == "--set") {
      add_param(options, cursor.value(option, arg));
    } else if (option == "--parallelism") {
      options.plan.parallelism = parse_positive_int(option, cursor.value(option, arg));
    } else if (option == "--max-parallelism") {
      options.plan.max_parallelism = parse_positive_int(option, cursor.value(option, arg));
    } else if (option == "--channel-capacity") {
      options.plan.channel_capacity =
          static_cast<size_t>(parse_positive_int(option, cursor.value(option, arg)));
    } else if (option == "--state") {
      std::string state = cursor.value(option, arg);
      if (state == "memory") {
        options.plan.state_backend.kind = StateBackendKind::kMemory;
      } else if (state == "rocksdb") {
        options.plan.state_backend.kind = StateBackendKind::kRocksDb;
      } else {
        throw UsageError("--state: '" + state + "' is not a state backend (memory, rocksdb)");
      }
    } else if (option == "--state-dir") {
      options.state_dir = cursor.value(option, arg);
    } else if (option == "--rocksdb-block-cache-mb") {
      options.plan.state_backend.rocksdb.block_cache_bytes =
          static_cast<size_t>(parse_positive_int(option, cursor.value(option, arg))) << 20;
    } else if (option == "--rocksdb-write-buffer-mb") {
      options.plan.state_backend.rocksdb.write_buffer_bytes =
          static_cast<size_t>(parse_positive_int(option, cursor.value(option, arg))) << 20;
    } else if (option == "--state-memory") {
      options.plan.state_backend.rocksdb.shared_memory_bytes =
          parse_byte_size(option, cursor.value(option, arg));
    } else if (option == "--rocksdb-write-cache-entries") {
      options.plan.state_backend.rocksdb.write_cache_entries =
          static_cast<size_t>(parse_positive_int(option, cursor.value(option, arg)));
    } else if (option == "--rocksdb-incremental") {
      std::string value = cursor.value(option, arg);
      if (value != "true" && value != "false") {
        throw UsageError("--rocksdb-incremental: '" + value + "' is not true or false");
      }
      options.plan.state_backend.incremental_checkpoints = value == "true";
    } else if (parse_batch_option(option, arg, cursor, options.checkpoint.batches)) {
    } else if (option == "--checkpoint-dir") {
      options.checkpoint.directory = cursor.value(option, arg);
    } else if (option == "--checkpoint-interval") {
      options.checkpoint.interval = parse_positive_duration(option, cursor.value(option, arg));
    } else if (option == "--checkpoint-mode") {
      std::string value = cursor.value(option, arg);
      if (value != "aligned" && value != "unaligned") {
        throw UsageError("--checkpoint-mode: '" + value + "' is not aligned or unaligned");
      }
      options.plan.unaligned_checkpoints = value == "unaligned";
    } else if (option == "--buffer-debloat-target") {
      options.plan.buffer_debloat_target = parse_positive_duration(option, cursor.value(option, arg));
    } else if (option == "--watermark-alignment") {
      options.plan.watermark_alignment = parse_positive_duration(option, cursor.value(option, arg));
    } else if (option == "--checkpoint-timeout") {
      options.checkpoint.timeout = parse_positive_duration(option, cursor.value(option, arg));
    } else if (option == "--checkpoints-retained") {
      options.checkpoint.retained =
          static_cast<size_t>(parse_positive_int(option, cursor.value(option, arg)));
    } else if (option == "--restore") {
      options.restore = cursor.value(option, arg);
    } else if (option == "--restart-strategy") {
      options.restart.kind = parse_restart_kind(cursor.value(option, arg));
      options.restart_given = true;
    } else if (option == "--restart-attempts") {
      options.restart.max_attempts = parse_positive_int(option, cursor.value(option, arg));
    } else if (option == "--restart-delay") {
      options.restart.delay = parse_positive_duration(option, cursor.value(option, arg));
    } else if (option == "--restart-max-delay") {
      options.restart.max_delay = parse_positive_duration(option, cursor.value(option, arg));
    } else if (option == "--progress") {
      options.progress = true;
    } else if (option == "--log-level") {
      options.log_level = cursor.value(option, arg);
    } else if (arg.rfind("-", 0) == 0) {
      throw UsageError("unknown option '" + arg + "' (see sluice run --help)");
    } else if (options.topology.empty()) {
      options.topology = arg;
      is_topology = true;
    } else {
      throw UsageError("unexpected argument '" + arg + "' (see sluice run --help)");
    }
    if (!is_topology) {
      options.job_args.insert(options.job_args.end(), args.begin() + static_cast<long>(first),
                              args.begin() + static_cast<long>(cursor.position()));
    }
  }
  if (options.topology.empty() && !options.help) {
    throw UsageError("run: missing TOPOLOGY (see sluice topologies)");
  }
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
  return options;
}

}  // namespace sluice
