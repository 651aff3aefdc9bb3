#include "connectors/staged_file.h"

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "runtime/core/errors.h"
#include "runtime/core/file_io.h"
#include "runtime/core/logging.h"

namespace sluice {

StagedFile::StagedFile(const std::string& hidden_path, const char* who)
    : file_(PosixFile::create_for_writing(hidden_path, who)), who_(who) {
  buffer_.reserve(kFlushBytes + kFlushBytes / 4);
}

void StagedFile::flush() {
  file_.write_all(buffer_);
  written_ += buffer_.size();
  buffer_.clear();
}

void StagedFile::publish(const std::string& final_path) {
  flush();
  file_.sync();
  file_.close();
  file_io::rename_durably(file_.path(), final_path, who_);
}

void StagedFile::abandon() {
  buffer_.clear();
  try {
    file_.close();
  } catch (const ExternalError& error) {
    // Abandoning follows a failure that is already being reported; a close
    // error must not replace it, so it only goes to the log.
    log::connectors()->warn("abandoning {}: {}", file_.path(), error.what());
  }
}

void create_directories(const std::string& directory, const char* who) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) {
    throw ExternalError(std::string(who) + ": cannot create directory " + directory + ": " +
                        error.message());
  }
}

}  // namespace sluice
