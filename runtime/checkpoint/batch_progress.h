// What a committed micro-batch reports (design section 10), as Spark's
// query progress does: one log line, and one JSON object per line in the
// job's progress file (runtime/checkpoint/batch_log.h):
//
//   {"batch":3,"replayed":false,"committed_at_ms":1767225601234,
//    "input_rows":12000,"rows_per_second":480000.0,
//    "sources":[{"name":"events","input_rows":12000}],
//    "duration_ms":{"planning":2,"processing":21,"commit":2,"total":25},
//    "watermark_ms":1767225590000,"state_bytes":123456}
//
// "watermark_ms" is null while no source has seen event time.
//
// Threading: plain values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/core/time.h"
#include "runtime/operator/source.h"

namespace sluice {

struct BatchProgress {
  int64_t batch = 0;
  bool replayed = false;  // a planned batch run again after a restore
  Timestamp committed_at = 0;
  std::vector<std::pair<std::string, int64_t>> input_rows;  // per source
  DurationMs planning_ms = 0;                               // from the trigger to the logged plan
  DurationMs processing_ms = 0;  // from the plan to the last acknowledgement
  DurationMs commit_ms = 0;      // writing the checkpoint and the commit record
  std::optional<Timestamp> watermark;
  uint64_t state_bytes = 0;  // the checkpoint's state, shared files included
  // The batch's plan: each source's slices (start and end offsets per split).
  std::vector<std::pair<std::string, std::vector<SplitSlice>>> slices;

  int64_t total_rows() const;
  DurationMs total_ms() const { return planning_ms + processing_ms + commit_ms; }
  double rows_per_second() const;
  std::string to_json() const;
  std::string to_log_line() const;
};

}  // namespace sluice
