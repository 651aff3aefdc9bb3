// A task's metrics probe (runtime/metrics/probe.h): the input batches it
// took, the snapshots it took, and where its thread's time went while it
// did not work: waiting for room in an output channel (backpressure) or for
// input, a mail or a timer (idle). Updated by the task's thread, per batch
// or per wait, never per record; read from any thread.
#pragma once

#include <string>

#include "runtime/metrics/probe.h"

namespace sluice {

struct TaskProbe {
  Counter batches_in;
  Counter snapshots;
  Counter backpressured_us;
  Counter idle_us;

  // Registers every metric in `registry` (names task_*, labelled with the
  // task's name), until registry.remove(this).
  void register_in(MetricRegistry& registry, const std::string& task) const {
    std::string labels = "task=\"" + task + "\"";
    registry.add(this, "task_batches_in", "input batches the task took", batches_in, labels);
    registry.add(this, "task_snapshots", "snapshots the task took at barriers", snapshots, labels);
    registry.add(this, "task_backpressured_us",
                 "time the task waited for room in an output channel", backpressured_us, labels);
    registry.add(this, "task_idle_us", "time the task waited for input, a mail or a timer", idle_us,
                 labels);
  }
};

}  // namespace sluice
