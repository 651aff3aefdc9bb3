// The non-template parts of the file source (connectors/file_source.h): its
// options, the error policy and the bookkeeping of malformed lines.
//
// Threading: options are immutable values; a MalformedLines belongs to one
// reader on its task's thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/core/errors.h"

namespace sluice {

// What a source does with a malformed line (its parse function threw InputError).
enum class OnError {
  kFail,  // fail the job with the parse error (the default)
  kSkip   // skip the line, count it in JobMetrics::skipped_records and note it at the end
};

// "fail" or "skip"; anything else throws UsageError.
OnError parse_on_error(std::string_view text);

struct FileSourceOptions {
  // The newline-delimited text file to read. Required.
  std::string path;
  // Records per second over the whole source; each subtask keeps to
  // rate / parallelism. 0 (the default): as fast as downstream takes them.
  double rate = 0;
  // Malformed lines fail the job (default) or are skipped and counted.
  OnError on_error = OnError::kFail;
  // Number of splits the file is divided into (at most kMaxSplits); split k
  // is read by subtask k % parallelism. 0 (the default): one split per
  // subtask. A restored source keeps the count of its checkpoint.
  int splits = 0;
  // Bytes per read(2) call; one buffer of this size per subtask. Default 1 MiB.
  size_t read_buffer_bytes = size_t{1} << 20;
};

// Throws UsageError for an empty path, a negative or non-finite rate, a
// split count outside 0..kMaxSplits or a zero buffer size.
void validate_file_source_options(const FileSourceOptions& options);

// Where a line came from, for the parse function's error messages.
struct LineLocation {
  std::string_view path;
  uint64_t line = 0;  // 1-based

  // "PATH:LINE"
  std::string to_string() const;
  // InputError "PATH:LINE: WHAT", for a parse function to throw.
  InputError error(std::string_view what) const;
};

// Applies the OnError policy to one reader's malformed lines and remembers
// the first one for the end-of-job note.
class MalformedLines {
 public:
  explicit MalformedLines(OnError policy) : policy_(policy) {}

  // kFail: throws `error` again, prefixed with "PATH:LINE: " unless its
  // message already starts with that. kSkip: counts the line.
  void on_error(const InputError& error, const LineLocation& where);
  // Lines skipped since the last call; the reader adds them to the metrics
  // once per batch.
  uint64_t take_unreported();
  uint64_t skipped() const { return skipped_; }
  // "PATH: skipped 3 malformed lines (first at line 17: WHAT)", or "" when
  // nothing was skipped.
  std::string note(std::string_view path) const;

 private:
  OnError policy_;
  uint64_t skipped_ = 0;
  uint64_t reported_ = 0;
  uint64_t first_line_ = 0;
  std::string first_message_;
};

}  // namespace sluice
