// The keyed state of one operator subtask, which the runtime owns (as
// Flink's StreamOperatorStateHandler does). For an operator that keeps keyed
// state (OperatorBase::keeps_keyed_state()), it creates the backend for the
// subtask's key groups, RocksDB in a directory of the subtask's own, restores
// it from the checkpoint the job resumes, and adds it to every snapshot of
// the operator. The operator sees only the backend, through its context,
// and creates its state handles and timer queues there.
//
// Metrics (with a registry): state_entries{task, operator} (counted at
// each checkpoint in memory, RocksDB's estimate otherwise), and for
// RocksDB the instance's memtable, block cache, live data and pending
// compaction bytes, read when collected.
//
// Threading: on the task thread; the registry reads the metrics from any.
// Lifecycle: construct before the operator's open() -> complete_snapshot()
// at each barrier -> destroy after the operator (its state handles point
// into the backend).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "runtime/metrics/probe.h"
#include "runtime/operator/checkpoint_kind.h"
#include "runtime/operator/operator.h"
#include "runtime/state_backend/keyed_state_backend.h"

namespace sluice {

class OperatorStateHandler {
 public:
  // `restore` may be null (a fresh start). Throws InputError for a
  // checkpoint this backend cannot read.
  OperatorStateHandler(const OperatorBase& op, const StateBackendConfig& config,
                       const OperatorRestore* restore, MetricRegistry* registry = nullptr,
                       const std::string& task = "");
  ~OperatorStateHandler();
  OperatorStateHandler(const OperatorStateHandler&) = delete;
  OperatorStateHandler& operator=(const OperatorStateHandler&) = delete;

  // Null for an operator without keyed state.
  KeyedStateBackend* backend() { return backend_.get(); }

  // Adds the keyed state (timers included) of checkpoint `id` to what the
  // operator itself wrote; all of it in the portable form for a savepoint.
  void complete_snapshot(int64_t id, CheckpointKind kind, OperatorSnapshot& snapshot);

 private:
  void register_metrics(MetricRegistry& registry, const std::string& task, const std::string& op);

  std::unique_ptr<KeyedStateBackend> backend_;
  MetricRegistry* registry_ = nullptr;
  Gauge entries_;
};

}  // namespace sluice
