// FileSource: a bounded source that reads a newline-delimited text file and
// turns each line into a record with a parse function.
//
//   std::optional<T> parse(std::string_view line, const LineLocation& where);
//
// The line comes without its '\n' and without a trailing '\r', as a view that
// is valid only during the call. The parse function returns the record;
// returns std::nullopt to drop the line silently (blank lines, comments, a
// header); and throws InputError for a malformed line, best built with
// `where.error("what is wrong")` so the message reads "PATH:LINE: what is
// wrong". The options' OnError policy then fails the job or skips the line.
// Other exceptions are not treated as malformed input and fail the job.
//
// Splits: the file is divided into contiguous ranges of whole lines (see
// connectors/file_split.h); subtask i reads splits k with k % parallelism == i,
// one after the other, and reports each split's end (kSplitFinished).
//
// Micro-batch slices: a split's position is the absolute 1-based number of
// its next line; everything up to the split's end is available (a file does
// not grow), so a plan reaches the end unless max_records, a number of lines,
// caps it. A slice reads its owned splits in turn, each up to its slice's
// end line, and returns kSliceEnd once none has lines left in its slice; a
// split whose slice reaches its last line reports kSplitFinished first. The
// next slice goes on from the first unfinished split.
//
// Checkpoints: a split's position is its next byte offset, the number of the
// line starting there and whether the split has finished (FileSplitPosition in
// connectors/file_split.h). A restored reader keeps its checkpoint's split
// count, seeks to its splits' offsets and numbers lines on from there.
//
// Threading: the FileSource is the plan, shared by all subtasks (create_reader
// may be called from any thread); each reader, with its own copy of the parse
// function, is used only by its task's thread.
// Lifecycle: create_reader -> open (plans the file once per source and opens
// it; a missing file throws ExternalError "file source: cannot open PATH:
// REASON") -> restore_positions (after a restore) -> read* until kFinished ->
// close.
#pragma once

#include <algorithm>
#include <concepts>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "connectors/file_source_support.h"
#include "connectors/file_split.h"
#include "connectors/line_reader.h"
#include "connectors/slice_plan.h"
#include "connectors/split_assignment.h"
#include "connectors/split_positions.h"
#include "connectors/throttle.h"
#include "runtime/metrics/metrics.h"
#include "runtime/operator/source.h"

namespace sluice {

template <class F, class T>
concept LineParser = std::copy_constructible<F> &&
    requires(F& parse, std::string_view line, const LineLocation& where) {
  { parse(line, where) } -> std::convertible_to<std::optional<T>>;
};

// Logs (debug) that a reader read a split to its end; in file_source.cc.
void log_split_finished(const std::string& task_name, const std::string& path,
                        const FileSplit& split);

template <class T, LineParser<T> ParseFn>
class FileSourceReader final : public SourceReader<T> {
 public:
  FileSourceReader(const FileSourceOptions& options, ParseFn parse,
                   std::shared_ptr<SplitPlanCache> plans, int subtask, int parallelism)
      : options_(options),
        parse_(std::move(parse)),
        plans_(std::move(plans)),
        subtask_(subtask),
        parallelism_(parallelism),
        split_count_(options.splits > 0 ? options.splits : parallelism),
        split_ids_(splits_of_subtask(split_count_, subtask, parallelism)),
        throttle_(options.rate / parallelism),
        malformed_(options.on_error),
        source_name_("file source " + options_.path) {
    where_.path = options_.path;
  }
  // where_ views options_.path: the reader stays where it was made.
  FileSourceReader(const FileSourceReader&) = delete;
  FileSourceReader& operator=(const FileSourceReader&) = delete;

  void open(const SourceReaderContext& context) override {
    task_name_ = context.task_name;
    metrics_ = context.metrics;
    open_file();
  }

  std::vector<int> splits() const override { return split_ids_; }

  // Without slices each call returns records (or a split's end); with
  // slices, a split that reached its slice's end without records gives way
  // to the next in the same call.
  ReadResult read(Batch<T>& out, size_t max_records, Timestamp now) override {
    open_file();
    for (;;) {
      if (split_done_) return finish_split();
      if (!in_split_ && !start_next_split()) return finish_reading();
      if (split_done_) return finish_split();  // restored as finished, or at its end
      if (slice_reached()) {
        leave_split();
        continue;
      }
      size_t allowed = throttle_.allowance(max_records, now);
      if (allowed == 0) return {ReadStatus::kNotYet, current_split(), throttle_.next_allowed(now)};
      size_t before = out.size();
      split_done_ = !parse_lines(out, allowed) || at_split_end();
      size_t produced = out.size() - before;
      throttle_.consume(produced);
      report_skipped();
      if (produced > 0) return {ReadStatus::kRecords, current_split()};
      if (split_done_) return finish_split();
    }
  }

  void close() override {
    if (in_split_) cursors_[next_] = current_cursor();  // a later read or snapshot goes on there
    split_done_ = in_split_ = false;
    lines_.reset();
  }

  // Before open(): no positions, as nothing was read.
  std::vector<SplitPosition> snapshot_positions() const override {
    std::vector<SplitPosition> positions;
    for (size_t i = 0; i < cursors_.size(); ++i) {
      const SplitCursor cursor = i == next_ && in_split_ ? current_cursor() : cursors_[i];
      positions.push_back(
          file_split_position(split_count_, (*plan_)[split_ids_[i]], cursor.at, cursor.state));
    }
    return positions;
  }

  // Finished splits stand at their end: start = end = available.
  std::vector<SplitSlice> plan_slices(uint64_t max_records) override {
    ensure_planned();
    std::vector<SplitSlice> slices;
    for (size_t i = 0; i < cursors_.size(); ++i) {
      const FileSplit& split = (*plan_)[split_ids_[i]];
      const SplitCursor cursor = i == next_ && in_split_ ? current_cursor() : cursors_[i];
      const int64_t available = to_slice_position(split.end_line);
      SplitSlice slice{split.id, available, available, available, true};
      if (cursor.state != SplitState::kFinished) {
        slice.start = std::min(to_slice_position(cursor.at.line), available);
        slice.end = capped_slice_end(slice.start, available, max_records);
      }
      slices.push_back(slice);
    }
    return slices;
  }

  void start_slices(const std::vector<SplitSlice>& slices) override {
    ensure_planned();
    if (in_split_) leave_split();
    slicing_ = true;
    slice_ends_.clear();
    for (const SplitCursor& cursor : cursors_) slice_ends_.push_back(cursor.at.line);
    for (const SplitSlice& slice : slices) {
      auto owned = std::lower_bound(split_ids_.begin(), split_ids_.end(), slice.split);
      if (owned == split_ids_.end() || *owned != slice.split) continue;
      slice_ends_[static_cast<size_t>(owned - split_ids_.begin())] = from_slice_position(slice.end);
    }
    next_ = 0;
  }

  void restore_positions(const std::vector<SplitPosition>& positions) override {
    auto restored = decode_positions<FileSplitPosition>(source_name_, positions);
    if (restored.split_count == 0) return;  // nothing stored: start at the beginning
    split_count_ = restored_split_count(source_name_, options_.splits, restored.split_count);
    split_ids_ = splits_of_subtask(split_count_, subtask_, parallelism_);
    plan_ = plans_->get(split_count_);
    reset_cursors();
    for (size_t i = 0; i < split_ids_.size(); ++i) {
      auto stored = restored.by_split.find(split_ids_[i]);
      if (stored == restored.by_split.end()) continue;
      const FileSplit& split = (*plan_)[split_ids_[i]];
      cursors_[i] = {resume_position(source_name_, split, stored->second), stored->second.state};
    }
  }

 private:
  // Where an owned split goes on: its start, its restored position, or
  // (once finished) its end.
  struct SplitCursor {
    LinePosition at;
    SplitState state = SplitState::kReading;
    bool reported = false;  // finished, and this reader returned kSplitFinished
  };
  static constexpr size_t kNoSplit = std::numeric_limits<size_t>::max();

  void open_file() {
    if (lines_) return;
    ensure_planned();
    lines_.emplace(options_.path, options_.read_buffer_bytes);
    positioned_ = kNoSplit;
  }

  void ensure_planned() {
    if (plan_) return;
    plan_ = plans_->get(split_count_);
    reset_cursors();
  }

  void reset_cursors() {
    cursors_.clear();
    for (int id : split_ids_) {
      const FileSplit& split = (*plan_)[id];
      cursors_.push_back({LinePosition{split.begin, split.first_line}});
    }
    next_ = 0;
    positioned_ = kNoSplit;
    split_done_ = in_split_ = false;
    slicing_ = false;
    slice_ends_.clear();
  }

  // The started split's position: after the last line returned.
  SplitCursor current_cursor() const {
    return {lines_->position(), split_done_ ? SplitState::kFinished : SplitState::kReading};
  }

  int current_split() const { return in_split_ ? split_ids_[next_] : 0; }

  // With slices, splits with nothing to do in this slice are passed over: a
  // finished split already reported, or one at its slice's end (unless that
  // is the split's end, still to be reported).
  bool has_work(size_t i) const {
    if (!slicing_) return true;
    const SplitCursor& cursor = cursors_[i];
    if (cursor.state == SplitState::kFinished) return !cursor.reported;
    return cursor.at.line < slice_ends_[i] || cursor.at.line >= (*plan_)[split_ids_[i]].end_line;
  }

  bool start_next_split() {
    while (next_ < split_ids_.size() && !has_work(next_)) ++next_;
    if (next_ == split_ids_.size()) return false;
    const SplitCursor& cursor = cursors_[next_];
    const FileSplit& split = (*plan_)[split_ids_[next_]];
    // The next slice of the split last read keeps what the buffer holds.
    if (positioned_ != next_ || lines_->position().offset != cursor.at.offset) {
      lines_->resume(split, cursor.at);
    }
    positioned_ = next_;
    in_split_ = true;
    split_done_ =
        cursor.state == SplitState::kFinished || (slicing_ && cursor.at.line >= split.end_line);
    return true;
  }

  ReadResult finish_split() {
    int split = split_ids_[next_];
    log_split_finished(task_name_, options_.path, (*plan_)[split]);
    cursors_[next_] = {lines_->position(), SplitState::kFinished, true};
    split_done_ = in_split_ = false;
    ++next_;
    return {ReadStatus::kSplitFinished, split};
  }

  // The started split reached its slice's end: the next one goes on.
  void leave_split() {
    cursors_[next_] = current_cursor();
    split_done_ = in_split_ = false;
    ++next_;
  }

  // With slices, the started split has no lines left in its slice.
  bool slice_reached() const { return slicing_ && lines_->position().line >= slice_ends_[next_]; }
  // With slices, the started split stands at its end (its last line was read).
  bool at_split_end() const {
    return slicing_ && lines_->position().line >= (*plan_)[split_ids_[next_]].end_line;
  }
  // The line before which the started split stops: its slice's end.
  uint64_t stop_line() const {
    return slicing_ ? slice_ends_[next_] : std::numeric_limits<uint64_t>::max();
  }

  // Every owned split passed: the end of the input or of the slice.
  ReadResult finish_reading() {
    if (slicing_) {
      for (const SplitCursor& cursor : cursors_) {
        if (cursor.state != SplitState::kFinished) return {ReadStatus::kSliceEnd};
      }
    }
    if (!finished_) {
      finished_ = true;
      std::string note = malformed_.note(options_.path);
      if (metrics_ && !note.empty()) metrics_->add_note(std::move(note));
    }
    return {ReadStatus::kFinished};
  }

  // Parses lines into `out` until `limit` more records, the slice's end or
  // the split's end; false at the split's end.
  bool parse_lines(Batch<T>& out, size_t limit) {
    const size_t goal = out.size() + limit;
    const uint64_t stop = stop_line();
    std::string_view line;
    while (out.size() < goal && lines_->line_number() + 1 < stop) {
      if (!lines_->next(line)) return false;
      where_.line = lines_->line_number();
      parse_line(line, out);
    }
    return true;
  }

  void parse_line(std::string_view line, Batch<T>& out) {
    try {
      std::optional<T> value = parse_(line, where_);
      if (value) out.emplace_back(std::move(*value), 0);
    } catch (const InputError& error) {
      malformed_.on_error(error, where_);
    }
  }

  void report_skipped() {
    uint64_t skipped = malformed_.take_unreported();
    if (skipped > 0 && metrics_) {
      metrics_->skipped_records.add(skipped);
    }
  }

  const FileSourceOptions options_;
  ParseFn parse_;
  std::shared_ptr<SplitPlanCache> plans_;
  const int subtask_;
  const int parallelism_;
  int split_count_;             // the checkpoint's after a restore
  std::vector<int> split_ids_;  // fixed once restore_positions() is past
  Throttle throttle_;
  MalformedLines malformed_;
  const std::string source_name_;  // "file source PATH", for error messages
  LineLocation where_;
  std::string task_name_;
  JobMetrics* metrics_ = nullptr;
  SplitPlanCache::Plan plan_;
  std::vector<SplitCursor> cursors_;  // one per split in split_ids_, once planned
  std::vector<uint64_t> slice_ends_;  // with slices: the end line per split in split_ids_
  std::optional<SplitLineReader> lines_;
  size_t next_ = 0;               // index in split_ids_ of the split being read
  size_t positioned_ = kNoSplit;  // index in split_ids_ of the split lines_ stands in
  bool in_split_ = false;         // a split is started
  bool split_done_ = false;       // the started split has no more lines
  bool finished_ = false;
  bool slicing_ = false;  // start_slices was called: read only up to slice_ends_
};

template <class T, LineParser<T> ParseFn>
class FileSource final : public Source<T> {
 public:
  // Throws UsageError for invalid options (see validate_file_source_options).
  FileSource(FileSourceOptions options, ParseFn parse)
      : options_(std::move(options)),
        parse_(std::move(parse)),
        plans_(std::make_shared<SplitPlanCache>(options_.path)) {
    validate_file_source_options(options_);
  }

  std::unique_ptr<SourceReader<T>> create_reader(int subtask, int parallelism) const override {
    check_subtask(subtask, parallelism);
    return std::make_unique<FileSourceReader<T, ParseFn>>(options_, parse_, plans_, subtask,
                                                          parallelism);
  }

  const FileSourceOptions& options() const { return options_; }

 private:
  FileSourceOptions options_;
  ParseFn parse_;
  std::shared_ptr<SplitPlanCache> plans_;
};

// The record type a parse function yields: T for std::optional<T>.
template <class ParseFn>
using parsed_type_t =
    typename std::invoke_result_t<ParseFn&, std::string_view, const LineLocation&>::value_type;

template <class ParseFn>
FileSource(FileSourceOptions, ParseFn) -> FileSource<parsed_type_t<ParseFn>, ParseFn>;

}  // namespace sluice
