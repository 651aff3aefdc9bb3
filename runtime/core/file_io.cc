#include "runtime/core/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "runtime/core/errors.h"
#include "runtime/core/fault_injection.h"

namespace sluice::file_io {
namespace {

// The errno an armed file fault wants this call to fail with, or 0.
int injected(fault::FileOp op, const std::string& path, size_t* bytes = nullptr) {
#ifdef SLUICE_FAULT_INJECTION
  return fault::file_call(op, path, bytes);
#else
  return 0;
#endif
}

int write_some(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

}  // namespace

int create(const std::string& path, int& fd) {
  if (int error = injected(fault::FileOp::kCreate, path)) return error;
  fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  return fd < 0 ? errno : 0;
}

int write_all(int fd, std::string_view bytes, const std::string& path) {
  return write_all(fd, {bytes}, path);
}

int write_all(int fd, std::initializer_list<std::string_view> parts, const std::string& path) {
  size_t total = 0;
  for (std::string_view part : parts) total += part.size();
  size_t torn = total;
  int error = injected(fault::FileOp::kWrite, path, &torn);
  if (error != 0 && error != -1) return error;
  for (std::string_view part : parts) {
    if (error == -1 && torn <= part.size()) {
      write_some(fd, part.substr(0, torn));
      fault::crash_now("torn write of " + path);
    }
    if (error == -1) torn -= part.size();
    if (int failed = write_some(fd, part)) return failed;
  }
  return 0;
}

int sync(int fd, const std::string& path) {
  if (int error = injected(fault::FileOp::kSync, path)) return error;
  return ::fsync(fd) == 0 ? 0 : errno;
}

int rename(const std::string& from, const std::string& to) {
  if (int error = injected(fault::FileOp::kRename, to)) return error;
  return std::rename(from.c_str(), to.c_str()) == 0 ? 0 : errno;
}

int sync_directory(const std::string& dir) {
  if (int error = injected(fault::FileOp::kSyncDirectory, dir)) return error;
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int error = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return error;
}

std::string read_whole_file(const std::string& path, const char* who) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_error(who, "read", path, errno);
  std::string content;
  char buffer[65536];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int error = errno;
      ::close(fd);
      throw_error(who, "read", path, error);
    }
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return content;
}

std::string directory_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

void throw_error(const char* who, const char* action, const std::string& path, int error_number) {
  std::string message = *who != '\0' ? std::string(who) + ": " : std::string();
  throw ExternalError(message + "cannot " + action + " " + path + ": " +
                      std::strerror(error_number));
}

void sync_directory_or_throw(const std::string& dir, const char* who) {
  if (int error = sync_directory(dir)) throw_error(who, "sync directory", dir, error);
}

void rename_durably(const std::string& from, const std::string& to, const char* who) {
  if (int error = rename(from, to)) throw_error(who, "rename", from + " to " + to, error);
  std::string to_dir = directory_of(to);
  sync_directory_or_throw(to_dir, who);
  if (std::string from_dir = directory_of(from); from_dir != to_dir) {
    sync_directory_or_throw(from_dir, who);
  }
}

}  // namespace sluice::file_io
