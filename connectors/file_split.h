// File splits: a newline-delimited text file divided into contiguous byte
// ranges that start at line starts, so that several subtasks can read one file
// and every error message can still carry the absolute line number; and the
// position of a split as a checkpoint stores it. A split also knows the line
// number at its end, the end of a micro-batch slice that reads it to the end.
//
// Threading: plan_file_splits is a pure function of the file's bytes and may
// run on any thread; a SplitPlanCache is shared by all readers of a source and
// is thread-safe.
// Lifecycle: a source plans its file once (the first reader to open does it)
// and every reader then reads the splits it owns.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "connectors/split_positions.h"
#include "runtime/core/codec.h"

namespace sluice {

struct FileSplit {
  int id = 0;               // index in the plan, 0..count-1
  uint64_t begin = 0;       // offset of the split's first byte (a line start)
  uint64_t end = 0;         // one past its last byte: a line start or the file size
  uint64_t first_line = 1;  // 1-based line number of the line starting at `begin`
  // The number the reader gives the position at `end`: one past the split's
  // last line (an unterminated last line of the file counts); `first_line`
  // for an empty split.
  uint64_t end_line = 1;

  bool operator==(const FileSplit&) const = default;
};

// A place between lines: the offset of a line's first byte (or of a split's
// end) and the 1-based number of the line that starts there.
struct LinePosition {
  uint64_t offset = 0;
  uint64_t line = 1;
};

// Where reading one split stands, as a checkpoint stores it. The split's
// planned range comes along so that a restore can tell that the file changed.
struct FileSplitPosition {
  static constexpr PersistedFormat kFormat{"file split position", 1};
  int32_t split_count = 0;  // splits in the plan
  uint64_t begin = 0;       // the split's range in that plan
  uint64_t end = 0;
  uint64_t offset = 0;  // the next byte to read: a line start in the split, or its end
  uint64_t line = 1;    // 1-based number of the line starting at `offset`
  SplitState state = SplitState::kReading;
  SLUICE_FIELDS(split_count, begin, end, offset, line, state)
};

// The SplitPosition of `split`, one of `split_count`, to go on at `next`.
SplitPosition file_split_position(int split_count, const FileSplit& split, LinePosition next,
                                  SplitState state);

// Where to go on reading `split` from its restored `stored` position. Throws
// InputError "SOURCE: corrupt checkpoint: ..." when the position lies outside
// the split, cannot be reached with its line number, or the file is planned
// differently now (it changed since the checkpoint).
LinePosition resume_position(const std::string& source, const FileSplit& split,
                             const FileSplitPosition& stored);

// Divides the file at `path` into exactly `count` splits, scanning it once
// to its end (the line count gives the last split's `end_line`). Split k
// starts at the first line start at or after size * k / count, so every byte
// belongs to exactly one split and no line is cut. A split may be empty
// (begin == end): a tiny file, or a line longer than size / count.
// Throws ExternalError "file source: cannot open PATH: REASON" when the file
// cannot be read, and UsageError when count < 1.
std::vector<FileSplit> plan_file_splits(const std::string& path, int count);

// Plans one file at most once per split count and shares the plan between
// the readers of all subtasks. A failed plan is not cached: the next reader
// tries again (the file may have appeared since).
class SplitPlanCache {
 public:
  using Plan = std::shared_ptr<const std::vector<FileSplit>>;

  explicit SplitPlanCache(std::string path) : path_(std::move(path)) {}
  Plan get(int count);

 private:
  const std::string path_;
  std::mutex mutex_;
  std::map<int, Plan> plans_;
};

}  // namespace sluice
