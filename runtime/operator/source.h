// Sources: a Source<T> is the plan (what to read; immutable, shared by all
// subtasks); it creates one SourceReader<T> per subtask, which holds the
// mutable reading position.
//
// Splits: a source divides its input into splits (a file range, a Kafka
// partition, a generator's share of event numbers). Each split gets its own
// watermark; a reader reports which split each batch came from.
//
// Records: a reader appends whole Record<T>s with timestamp 0 to the batch
// it is given; the source operator stamps event time in place and hands that
// same batch downstream: a value is built once, in its record, and the source
// operator does not move it again.
//
// Threading: a reader is used only by its source task's thread.
// Lifecycle: create_reader -> open -> read* -> close.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "runtime/core/clock.h"
#include "runtime/core/codec.h"
#include "runtime/core/errors.h"
#include "runtime/core/time.h"
#include "runtime/core/versioned.h"
#include "runtime/operator/record.h"

namespace sluice {

class JobMetrics;

struct SourceReaderContext {
  int subtask = 0;
  int parallelism = 1;
  std::string task_name;  // for log lines and error messages
  const Clock* clock = nullptr;
  JobMetrics* metrics = nullptr;
};

enum class ReadStatus {
  kRecords,        // the records appended to `out` are of split `split`
  kNotYet,         // nothing now; ask again at `retry_at` (processing time)
  kSplitFinished,  // split `split` has ended; it no longer holds the watermark
  kFinished,       // every split of this reader has ended
  kSliceEnd        // micro-batch: every unfinished split reached its slice's end
};

struct ReadResult {
  ReadStatus status = ReadStatus::kFinished;
  int split = 0;
  Timestamp retry_at = 0;
};

// The reading position of one split, as a checkpoint stores it. A restore
// hands every position of the old subtasks to each new reader, which keeps
// those of the splits it owns now (rescaling is a restore).
struct SplitPosition {
  int32_t split = 0;
  std::string position;  // the reader's own encoding, with a format version of its own
  SLUICE_FIELDS(split, position)
};

// A source operator's checkpoint state: the positions of its splits.
inline constexpr PersistedFormat kSourcePositionsFormat{"source positions", 1};

// Micro-batch mode (design section 10): each batch reads a planned slice of
// every split. A slice is given in the split's own unit of position, a
// number that orders its records: a file's line number, a generator's event
// index, a Kafka offset. Planning asks each reader where its splits stand
// and what is available; the coordinator writes the plan to its offset log
// and hands the slices back; a replayed batch gets the same slices.
struct SplitSlice {
  int32_t split = 0;
  int64_t start = 0;      // the split's position when planned
  int64_t end = 0;        // read the records before this position
  int64_t available = 0;  // the end of what can be read now (>= end)
  bool ended = false;     // reading to `available` reaches the split's end
  SLUICE_FIELDS(split, start, end, available, ended)

  bool operator==(const SplitSlice&) const = default;
};

// Where a source subtask's input stands between batches.
enum class SourceInput : int32_t {
  kOpen = 0,    // records may follow
  kEnding = 1,  // its reader has finished: the next batch ends its event time
  kEnded = 2,   // its end went out in a batch
};

// Without --max-records-per-batch, the slice of a split whose input never
// runs out (an unbounded generator without a rate) holds this many records.
inline constexpr uint64_t kDefaultUnlimitedSliceRecords = 1'000'000;

template <class T>
class SourceReader {
 public:
  virtual ~SourceReader() = default;
  virtual void open(const SourceReaderContext& context) {}
  // The splits this reader owns, fixed after open() and restore_positions().
  virtual std::vector<int> splits() const = 0;
  // Appends at most `max_records` (always > 0) records of one split to `out`,
  // each with timestamp 0 (the source operator sets it). Only appends: the
  // records already in `out` stay, and the source operator always passes an
  // empty batch with room for `max_records`.
  virtual ReadResult read(Batch<T>& out, size_t max_records, Timestamp now) = 0;
  virtual void close() {}

  // The position of every split this reader owns, finished ones included,
  // such that a reader restored from them reads exactly the records that
  // follow. Called on the task thread between reads.
  virtual std::vector<SplitPosition> snapshot_positions() const { return {}; }
  // Called after open() and before the first read with the positions of all
  // splits of the old subtasks; the reader resumes the splits it owns from
  // theirs (a split without a position starts at its beginning).
  virtual void restore_positions(const std::vector<SplitPosition>& positions) {}
  // Checkpoint `checkpoint_id` completed everywhere (on the task thread,
  // between reads). For side effects outside the job, such as committing
  // offsets for monitoring; never needed for correctness.
  virtual void notify_checkpoint_complete(int64_t checkpoint_id) {}

  // Micro-batch planning, on the task thread while no slice is being read:
  // for every split this reader owns (finished ones included, in splits()
  // order) its position, what is available now, and the end of a slice of
  // at most `max_records` records from the position (0: no cap). A reader
  // that cannot plan slices throws UsageError.
  virtual std::vector<SplitSlice> plan_slices(uint64_t max_records) {
    throw UsageError("this source cannot run in micro-batch mode");
  }
  // Starts reading one slice per owned split: from the split's position up
  // to the slice's `end` (`slices` may hold other readers' splits too; an
  // owned split without a slice reads nothing). read() then never returns a
  // record at or past a split's end; a split whose input ends first reports
  // kSplitFinished as usual, all of them kFinished; once every unfinished
  // split reached its end, read() returns kSliceEnd (until the next
  // start_slices), and snapshot_positions() puts each such split at its end.
  virtual void start_slices(const std::vector<SplitSlice>& slices) {
    throw UsageError("this source cannot run in micro-batch mode");
  }
};

// create_reader() is called on the thread that builds the execution plan,
// once per subtask each time the job starts (again after a restart).
template <class T>
class Source {
 public:
  virtual ~Source() = default;
  virtual std::unique_ptr<SourceReader<T>> create_reader(int subtask, int parallelism) const = 0;
};

// How a source stamps records with event time and makes watermarks:
// bounded out-of-orderness per split, and an optional idle timeout after
// which a split without records stops holding the watermark back.
template <class TimestampFn>
struct WatermarkStrategy {
  TimestampFn timestamp_of;         // T -> Timestamp
  DurationMs out_of_orderness = 0;  // watermark = max event time - this - 1
  DurationMs idle_timeout = 0;      // 0: splits never become idle
};

// A strategy for sources that do not use event time: every record has
// timestamp 0 and watermarks only reach +inf at the end.
struct NoTimestamps {
  template <class T>
  Timestamp operator()(const T&) const {
    return 0;
  }
};

template <class TimestampFn>
WatermarkStrategy<TimestampFn> bounded_out_of_orderness(TimestampFn fn, DurationMs delay,
                                                        DurationMs idle_timeout = 0) {
  return WatermarkStrategy<TimestampFn>{std::move(fn), delay, idle_timeout};
}

}  // namespace sluice
