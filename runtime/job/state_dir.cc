#include "runtime/job/state_dir.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "runtime/core/errors.h"

namespace sluice {
namespace {

constexpr const char* kPrefix = "sluice-state-";
constexpr const char* kOwnerFile = ".owner";
// An owner file this young may belong to a process that has not locked it yet.
constexpr auto kMinAbandonedAge = std::chrono::seconds(10);

// True when `dir`'s owner file exists, is old enough and nobody holds its lock.
bool abandoned(const std::filesystem::path& dir) {
  std::filesystem::path owner = dir / kOwnerFile;
  std::error_code ec;
  auto written = std::filesystem::last_write_time(owner, ec);
  if (ec || std::filesystem::file_time_type::clock::now() - written < kMinAbandonedAge)
    return false;
  int fd = ::open(owner.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool free = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
  ::close(fd);
  return free;
}

}  // namespace

int JobStateDirectory::remove_abandoned(const std::string& parent) {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(parent, ec)) {
    if (!entry.is_directory(ec) || entry.path().filename().string().rfind(kPrefix, 0) != 0)
      continue;
    if (!abandoned(entry.path())) continue;
    std::filesystem::remove_all(entry.path(), ec);
    if (!ec) ++removed;
  }
  return removed;
}

JobStateDirectory::JobStateDirectory(const std::string& given) {
  if (!given.empty()) {
    path_ = given;
    return;
  }
  std::filesystem::path parent = std::filesystem::temp_directory_path();
  remove_abandoned(parent.string());
  std::string pattern = (parent / (std::string(kPrefix) + "XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw ExternalError("cannot create a state directory " + pattern + ": " + std::strerror(errno));
  }
  path_ = pattern;
  temporary_ = true;
  std::string owner = path_ + "/" + kOwnerFile;
  owner_fd_ = ::open(owner.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (owner_fd_ < 0 || ::flock(owner_fd_, LOCK_EX | LOCK_NB) != 0) {
    std::string reason = std::strerror(errno);
    if (owner_fd_ >= 0) ::close(owner_fd_);
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    throw ExternalError("cannot lock " + owner + ": " + reason);
  }
}

JobStateDirectory::~JobStateDirectory() {
  if (!temporary_) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  if (owner_fd_ >= 0) ::close(owner_fd_);
}

}  // namespace sluice
