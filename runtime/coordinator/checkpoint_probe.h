// The checkpoint coordinator's metrics probe (runtime/metrics/probe.h):
// checkpoints completed and aborted, and the last completed one's id,
// duration and sizes. Updated by the coordinator under its lock; read from
// any thread.
#pragma once

#include "runtime/metrics/probe.h"

namespace sluice {

struct CheckpointProbe {
  Counter completed;
  Counter aborted;
  Gauge last_id;
  Gauge last_duration_ms;
  Gauge last_bytes_written;  // new in the checkpoint
  Gauge last_bytes_total;    // the whole state it refers to

  // Registers every metric in `registry` (names checkpoint_*), until
  // registry.remove(this).
  void register_in(MetricRegistry& registry) const {
    registry.add(this, "checkpoint_completed", "checkpoints completed", completed);
    registry.add(this, "checkpoint_aborted", "checkpoints aborted", aborted);
    registry.add(this, "checkpoint_last_id", "the last completed checkpoint", last_id);
    registry.add(this, "checkpoint_last_duration_ms",
                 "trigger to completion of the last completed checkpoint", last_duration_ms);
    registry.add(this, "checkpoint_last_bytes_written", "bytes the last completed checkpoint wrote",
                 last_bytes_written);
    registry.add(this, "checkpoint_last_bytes_total",
                 "bytes of state the last completed checkpoint refers to", last_bytes_total);
  }
};

}  // namespace sluice
