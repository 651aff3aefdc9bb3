// Reads the lines of file splits with large reads into one reusable buffer.
// A line is a view into the buffer: no allocation per line. A line that
// crosses the end of the buffer is moved to its front before the next read;
// a line longer than the whole buffer grows it.
//
// Threading: owned by one source reader, on its task's thread.
// Lifecycle: construct (opens the file) -> start(split) or resume(split, at)
// -> next()* until it returns false -> start(another split) ...
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/file_split.h"
#include "connectors/posix_file.h"

namespace sluice {

class SplitLineReader {
 public:
  static constexpr size_t kDefaultBufferBytes = size_t{1} << 20;

  // Throws ExternalError "file source: cannot open PATH: REASON".
  explicit SplitLineReader(const std::string& path, size_t buffer_bytes = kDefaultBufferBytes);

  // Positions the reader at the first line of `split`.
  void start(const FileSplit& split) { resume(split, LinePosition{split.begin, split.first_line}); }
  // Positions the reader at `at`, a line start in `split` or its end, as
  // position() gave it: reading goes on with the lines after those returned.
  void resume(const FileSplit& split, LinePosition at);
  // The next line of the split without its '\n' and without a trailing '\r';
  // valid until the next call. False at the end of the split.
  bool next(std::string_view& line);
  // 1-based line number in the file of the line last returned by next().
  uint64_t line_number() const { return line_number_; }
  // Where the line after the last one returned starts (the bytes already in
  // the buffer but not returned are not read yet).
  LinePosition position() const {
    return LinePosition{offset_ - (end_ - begin_), line_number_ + 1};
  }
  const std::string& path() const { return file_.path(); }

 private:
  bool fill();
  std::string_view take(size_t length, size_t skip);

  PosixFile file_;
  std::vector<char> buffer_;
  size_t begin_ = 0;  // unread bytes are buffer_[begin_, end_)
  size_t end_ = 0;
  size_t scanned_ = 0;   // bytes from begin_ already known to hold no '\n'
  uint64_t offset_ = 0;  // file offset of the next read
  uint64_t split_end_ = 0;
  uint64_t line_number_ = 0;
};

}  // namespace sluice
