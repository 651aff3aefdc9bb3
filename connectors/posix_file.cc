#include "connectors/posix_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "runtime/core/errors.h"
#include "runtime/core/file_io.h"

namespace sluice {

void throw_io_error(const char* who, const char* action, const std::string& path,
                    int error_number) {
  throw ExternalError(std::string(who) + ": cannot " + action + " " + path + ": " +
                      std::strerror(error_number));
}

PosixFile PosixFile::open_for_reading(const std::string& path, const char* who) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_io_error(who, "open", path, errno);
  return PosixFile(fd, path, who);
}

PosixFile PosixFile::create_for_writing(const std::string& path, const char* who) {
  int fd = -1;
  if (int error = file_io::create(path, fd)) throw_io_error(who, "create", path, error);
  return PosixFile(fd, path, who);
}

PosixFile::PosixFile(PosixFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)), who_(other.who_) {}

PosixFile& PosixFile::operator=(PosixFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    who_ = other.who_;
  }
  return *this;
}

PosixFile::~PosixFile() {
  if (fd_ >= 0) ::close(fd_);
}

void PosixFile::fail(const char* action) const {
  throw_io_error(who_, action, path_, errno);
}

uint64_t PosixFile::size() const {
  struct stat st;
  if (::fstat(fd_, &st) != 0) fail("stat");
  return static_cast<uint64_t>(st.st_size);
}

size_t PosixFile::read_at(char* data, size_t n, uint64_t offset) const {
  for (;;) {
    ssize_t got = ::pread(fd_, data, n, static_cast<off_t>(offset));
    if (got >= 0) return static_cast<size_t>(got);
    if (errno != EINTR) fail("read");
  }
}

void PosixFile::write_all(std::string_view data) {
  if (int error = file_io::write_all(fd_, data, path_)) throw_io_error(who_, "write", path_, error);
}

void PosixFile::sync() {
  if (int error = file_io::sync(fd_, path_)) throw_io_error(who_, "sync", path_, error);
}

void PosixFile::close() {
  if (fd_ < 0) return;
  int fd = std::exchange(fd_, -1);
  // Linux releases the descriptor even when close fails, so never retry it.
  if (::close(fd) != 0 && errno != EINTR) fail("close");
}

}  // namespace sluice
