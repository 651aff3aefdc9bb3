#include "runtime/cli/state_dir.h"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "runtime/core/errors.h"

namespace sluice {

JobStateDirectory::JobStateDirectory(const std::string& given) {
  if (!given.empty()) {
    path_ = given;
    return;
  }
  std::string pattern = (std::filesystem::temp_directory_path() / "sluice-state-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw ExternalError("cannot create a state directory " + pattern + ": " +
                        std::strerror(errno));
  }
  path_ = pattern;
  temporary_ = true;
}

JobStateDirectory::~JobStateDirectory() {
  if (!temporary_) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace sluice
