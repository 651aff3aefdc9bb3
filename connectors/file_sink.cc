#include "connectors/file_sink.h"

#include <filesystem>

#include "runtime/core/errors.h"

namespace sluice {
namespace {

constexpr const char* kWho = "text file sink";

}  // namespace

void validate_text_file_path(const std::string& path) {
  if (path.empty()) throw UsageError("text file sink: no path given");
  if (std::filesystem::path(path).filename().empty()) {
    throw UsageError("text file sink: " + path + " names a directory, not a file");
  }
}

void SingleTextFile::open(const SinkContext& context) {
  if (context.parallelism != 1) {
    throw UsageError("text file sink " + path_ + " writes one file and needs parallelism 1, not " +
                     std::to_string(context.parallelism));
  }
  std::filesystem::path target(path_);
  std::string hidden_name = ".";
  hidden_name += target.filename().string();
  hidden_name += ".inprogress";
  std::filesystem::path hidden = target.parent_path() / hidden_name;
  if (target.has_parent_path()) create_directories(target.parent_path().string(), kWho);
  file_.emplace(hidden.string(), kWho);
}

void SingleTextFile::finish() {
  file_->publish(path_);
  file_.reset();
}

void SingleTextFile::close() {
  if (!file_) return;
  file_->abandon();
  file_.reset();
}

}  // namespace sluice
