// A task's metrics probe (runtime/metrics/probe.h): the input batches and
// records it took from its input channels and the records it handed its
// output channels, its input watermark, the snapshots it took, and where
// its thread's time went while it did not work: waiting for room in an
// output channel (backpressure) or for input, a mail or a timer (idle).
// Busy time is the rest. Updated by the task's thread, per batch, per
// watermark or per wait, never per record; read from any thread.
#pragma once

#include <string>

#include "runtime/core/time.h"
#include "runtime/metrics/probe.h"

namespace sluice {

struct TaskProbe {
  Counter batches_in;
  Counter records_in;                    // from input channels (not a source's reads)
  Counter records_out;                   // to output channels, once per record
  Gauge input_watermark{kMinTimestamp};  // the minimum over the inputs; kMinTimestamp: none yet
  Counter snapshots;
  Counter backpressured_us;
  Counter idle_us;

  // Registers every metric in `registry` (names task_*, labelled with the
  // task's name), until registry.remove(this).
  void register_in(MetricRegistry& registry, const std::string& task) const {
    MetricLabels labels{{"task", task}};
    registry.add(this, "task_batches_in", "input batches the task took", batches_in, labels);
    registry.add(this, "task_records_in", "records the task took from its input channels",
                 records_in, labels);
    registry.add(this, "task_records_out", "records the task handed its output channels",
                 records_out, labels);
    registry.add(this, "task_input_watermark", "the task's input watermark (ms)", input_watermark,
                 labels);
    registry.add(this, "task_snapshots", "snapshots the task took at barriers", snapshots, labels);
    registry.add(this, "task_backpressured_us",
                 "time the task waited for room in an output channel", backpressured_us, labels);
    registry.add(this, "task_idle_us", "time the task waited for input, a mail or a timer", idle_us,
                 labels);
  }
};

}  // namespace sluice
