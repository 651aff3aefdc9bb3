// How a job takes checkpoints: where, how often, how many it keeps, and
// whether it runs as micro-batches (every batch is a checkpoint). Set from
// the command line (runtime/cli/run_options.h); read by the coordinator.
//
// Threading: plain values, copied where needed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/core/time.h"

namespace sluice {

// Micro-batch mode (design section 10): when batches start.
enum class BatchTrigger {
  kBackToBack,    // each batch as soon as the last one committed
  kInterval,      // every `interval`, or right after a batch that ran longer
  kOnce,          // one batch of everything available, then stop
  kAvailableNow,  // what is available at the start, in capped batches, then stop
};

struct BatchConfig {
  bool enabled = false;  // --mode microbatch
  BatchTrigger trigger = BatchTrigger::kBackToBack;
  DurationMs interval = 0;   // kInterval
  uint64_t max_records = 0;  // per split and batch; 0: no cap
};

struct CheckpointConfig {
  std::string directory;    // empty: no checkpoints
  DurationMs interval = 0;  // 0: no checkpoints (continuous mode)
  DurationMs timeout = 600'000;
  size_t retained = 3;
  BatchConfig batches;  // micro-batch mode: every batch is a checkpoint

  bool enabled() const { return !directory.empty() && (interval > 0 || batches.enabled); }
};

}  // namespace sluice
