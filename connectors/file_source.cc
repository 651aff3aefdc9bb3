#include "connectors/file_source.h"

#include <cmath>

#include "runtime/core/logging.h"

namespace sluice {
namespace {

// The message without a leading "PATH:LINE: ", which the note states itself.
std::string_view without_prefix(std::string_view message, const std::string& prefix) {
  if (message.starts_with(prefix) && message.substr(prefix.size()).starts_with(": ")) {
    message.remove_prefix(prefix.size() + 2);
  }
  return message;
}

}  // namespace

OnError parse_on_error(std::string_view text) {
  if (text == "fail") return OnError::kFail;
  if (text == "skip") return OnError::kSkip;
  throw UsageError("on_error must be \"fail\" or \"skip\", not \"" + std::string(text) + "\"");
}

void validate_file_source_options(const FileSourceOptions& options) {
  if (options.path.empty()) throw UsageError("file source: no path given");
  if (!std::isfinite(options.rate) || options.rate < 0) {
    throw UsageError("file source " + options.path + ": rate must be a number >= 0");
  }
  if (options.splits < 0 || options.splits > kMaxSplits) {
    throw UsageError("file source " + options.path + ": splits must be in 0.." +
                     std::to_string(kMaxSplits));
  }
  if (options.read_buffer_bytes == 0) {
    throw UsageError("file source " + options.path + ": read_buffer_bytes must be > 0");
  }
}

std::string LineLocation::to_string() const {
  return std::string(path) + ":" + std::to_string(line);
}

InputError LineLocation::error(std::string_view what) const {
  return InputError(to_string() + ": " + std::string(what));
}

void MalformedLines::on_error(const InputError& error, const LineLocation& where) {
  const std::string prefix = where.to_string();
  std::string_view what = without_prefix(error.what(), prefix);
  if (policy_ == OnError::kFail) {
    if (what.size() != std::string_view(error.what()).size()) throw error;
    throw where.error(what);
  }
  if (skipped_++ == 0) {
    first_line_ = where.line;
    first_message_ = std::string(what);
  }
}

uint64_t MalformedLines::take_unreported() {
  uint64_t fresh = skipped_ - reported_;
  reported_ = skipped_;
  return fresh;
}

std::string MalformedLines::note(std::string_view path) const {
  if (skipped_ == 0) return "";
  return std::string(path) + ": skipped " + std::to_string(skipped_) + " malformed line" +
         (skipped_ == 1 ? "" : "s") + " (first at line " + std::to_string(first_line_) + ": " +
         first_message_ + ")";
}

void log_split_finished(const std::string& task_name, const std::string& path,
                        const FileSplit& split) {
  log::connectors()->debug("{}: file source {}: split {} (bytes {}..{}) finished", task_name, path,
                           split.id, split.begin, split.end);
}

}  // namespace sluice
