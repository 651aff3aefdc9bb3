// A text file written under a hidden temporary name and made visible by one
// atomic rename, so readers of the output never see half a file. Appends go
// to an in-memory buffer that is written out in large writes.
//
// Threading: owned by one sink writer, on its task's thread.
// Lifecycle: construct (creates the hidden file) -> buffer() appends with
// flush_if_full() -> publish(final path), or abandon() after a failure (the
// hidden file stays; it is not part of the output).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "connectors/posix_file.h"

namespace sluice {

class StagedFile {
 public:
  static constexpr size_t kFlushBytes = size_t{1} << 20;

  // Creates (truncates) `hidden_path`. `who` starts error messages.
  StagedFile(const std::string& hidden_path, const char* who);

  // Where lines are appended; write them out with flush_if_full().
  std::string& buffer() { return buffer_; }
  void flush_if_full() {
    if (buffer_.size() >= kFlushBytes) flush();
  }
  // Bytes in the file so far, buffered ones included.
  uint64_t size() const { return written_ + buffer_.size(); }

  // Writes the buffer, syncs and closes the file and renames it to
  // `final_path`, durably (the directory is synced too).
  void publish(const std::string& final_path);
  // Closes the file and leaves it under its hidden name.
  void abandon();

 private:
  void flush();

  PosixFile file_;
  const char* who_;
  std::string buffer_;
  uint64_t written_ = 0;
};

// Creates `directory` and its parents if missing. Throws ExternalError
// "WHO: cannot create directory DIR: REASON".
void create_directories(const std::string& directory, const char* who);

}  // namespace sluice
