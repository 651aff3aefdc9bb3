// A job's metrics: its registry (runtime/metrics/probe.h), where every
// module's probe registers, and the job-wide probe: records in and out,
// late and skipped records, the sinks' watermark and notes for the end-of-
// job summary, which the progress line reads. Counters are updated once per
// batch by task threads; everything is read by any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/core/time.h"
#include "runtime/metrics/probe.h"

namespace sluice {

class JobMetrics {
 public:
  JobMetrics();
  JobMetrics(const JobMetrics&) = delete;
  JobMetrics& operator=(const JobMetrics&) = delete;

  MetricRegistry registry;

  Counter records_in;       // records emitted by sources
  Counter records_out;      // records received by sinks
  Counter late_dropped;     // late records with nowhere to go
  Counter skipped_records;  // malformed or lost records skipped by policy
  Counter async_timeouts;   // asynchronous requests that timed out (then retried)
  Counter async_failures;   // asynchronous requests that failed (then retried)

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
