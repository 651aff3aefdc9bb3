// Job-wide counters that the progress line and the end-of-job summary read.
// Updated once per batch with relaxed atomics by task threads; read by any
// thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/core/time.h"

namespace sluice {

class JobMetrics {
 public:
  std::atomic<uint64_t> records_in{0};       // records emitted by sources
  std::atomic<uint64_t> records_out{0};      // records received by sinks
  std::atomic<uint64_t> late_dropped{0};     // late records with nowhere to go
  std::atomic<uint64_t> skipped_records{0};  // malformed or lost records skipped by policy

  // Registers a sink subtask's watermark slot, which lives as long as the
  // metrics; its owner stores its watermark there without a lock.
  std::atomic<Timestamp>* add_sink_watermark_slot();
  // The minimum watermark over all sink subtasks (kMinTimestamp if none).
  Timestamp sink_watermark() const;

  // Notes a message to print in the end-of-job summary (e.g. skipped lines).
  void add_note(std::string note);
  std::vector<std::string> notes() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<std::atomic<Timestamp>>> sink_watermarks_;
  std::vector<std::string> notes_;
};

}  // namespace sluice
