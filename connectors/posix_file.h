// A file descriptor that closes itself, with read and write calls that throw
// ExternalError naming the file and the system's reason. `who` starts every
// message ("file source", "file sink") so the user knows which part failed.
//
// Threading: one owner thread at a time; movable, not copyable.
// Lifecycle: open_for_reading / create_for_writing -> read_at / write_all* ->
// sync? -> close() (reports errors) or destruction (closes silently).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace sluice {

class PosixFile {
 public:
  // Throws ExternalError "WHO: cannot open PATH: REASON".
  static PosixFile open_for_reading(const std::string& path, const char* who);
  // Creates or truncates PATH (mode 0644). Throws ExternalError "WHO: cannot create PATH: REASON".
  static PosixFile create_for_writing(const std::string& path, const char* who);

  PosixFile(PosixFile&& other) noexcept;
  PosixFile& operator=(PosixFile&& other) noexcept;
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;
  ~PosixFile();

  // The file's current size in bytes.
  uint64_t size() const;
  // Reads up to `n` bytes at `offset`; returns 0 only at the end of the file.
  size_t read_at(char* data, size_t n, uint64_t offset) const;
  // Writes all of `data` at the current position.
  void write_all(std::string_view data);
  // Makes what was written durable (fsync).
  void sync();
  // Closes the descriptor; a failure (e.g. a deferred write error) throws.
  void close();

  bool is_open() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }

 private:
  PosixFile(int fd, std::string path, const char* who)
      : fd_(fd), path_(std::move(path)), who_(who) {}
  [[noreturn]] void fail(const char* action) const;

  int fd_ = -1;
  std::string path_;
  const char* who_ = "";
};

// "WHO: cannot ACTION PATH: strerror(errno)" as an ExternalError.
[[noreturn]] void throw_io_error(const char* who, const char* action, const std::string& path,
                                 int error_number);

}  // namespace sluice
