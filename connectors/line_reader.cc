#include "connectors/line_reader.h"

#include <algorithm>
#include <cstring>

#include "runtime/core/errors.h"

namespace sluice {

SplitLineReader::SplitLineReader(const std::string& path, size_t buffer_bytes)
    : file_(PosixFile::open_for_reading(path, "file source")),
      buffer_(std::max<size_t>(buffer_bytes, 1)) {}

void SplitLineReader::resume(const FileSplit& split, LinePosition at) {
  begin_ = end_ = scanned_ = 0;
  offset_ = at.offset;
  split_end_ = split.end;
  line_number_ = at.line - 1;
}

bool SplitLineReader::next(std::string_view& line) {
  for (;;) {
    const char* unread = buffer_.data() + begin_;
    size_t available = end_ - begin_;
    const void* hit = std::memchr(unread + scanned_, '\n', available - scanned_);
    if (hit != nullptr) {
      line = take(static_cast<size_t>(static_cast<const char*>(hit) - unread), 1);
      return true;
    }
    scanned_ = available;
    if (fill()) continue;
    if (available == 0) return false;
    line = take(available, 0);  // the file's last line, without a '\n'
    return true;
  }
}

// Returns the next `length` unread bytes as a line and consumes `skip` more.
std::string_view SplitLineReader::take(size_t length, size_t skip) {
  std::string_view line(buffer_.data() + begin_, length);
  begin_ += length + skip;
  scanned_ = 0;
  ++line_number_;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// Reads more of the split behind the unread bytes; false at the split's end.
bool SplitLineReader::fill() {
  if (offset_ >= split_end_) return false;
  size_t unread = end_ - begin_;
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, unread);
    begin_ = 0;
    end_ = unread;
  }
  if (end_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);  // a very long line
  size_t want =
      static_cast<size_t>(std::min<uint64_t>(buffer_.size() - end_, split_end_ - offset_));
  size_t got = file_.read_at(buffer_.data() + end_, want, offset_);
  if (got == 0) {
    throw ExternalError("file source: " + file_.path() + " ended at byte " +
                        std::to_string(offset_) + ", before the planned end of its split at byte " +
                        std::to_string(split_end_) + " (was it truncated while being read?)");
  }
  end_ += got;
  offset_ += got;
  return true;
}

}  // namespace sluice
