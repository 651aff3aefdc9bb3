#include "connectors/part_files.h"

#include "runtime/core/errors.h"
#include "runtime/core/logging.h"

namespace sluice {

void validate_file_sink_options(const FileSinkOptions& options) {
  if (options.directory.empty()) throw UsageError("file sink: no output directory given");
  if (options.max_file_bytes == 0) {
    throw UsageError("file sink " + options.directory + ": max_file_bytes must be > 0");
  }
  if (options.rollover_interval < 0) {
    throw UsageError("file sink " + options.directory + ": rollover_interval must be >= 0");
  }
}

void PartFileSequence::open(int subtask, std::string task_name) {
  subtask_ = subtask;
  task_name_ = std::move(task_name);
  create_directories(options_.directory, "file sink");
}

void PartFileSequence::on_time(Timestamp now) {
  now_ = now;
  if (!current_ || options_.rollover_interval == 0 || current_->size() == 0) return;
  if (opened_at_ == kMinTimestamp) {
    opened_at_ = now;  // opened before any time was known: its interval starts now
  } else if (now - opened_at_ >= options_.rollover_interval) {
    publish_part();
  }
}

void PartFileSequence::finish() {
  if (current_) publish_part();
}

void PartFileSequence::close() {
  if (!current_) return;
  current_->abandon();
  log::connectors()->info("{}: file sink left unpublished {}", task_name_, part_name(true));
  current_.reset();
}

std::string PartFileSequence::part_name(bool hidden) const {
  std::string name = "part-" + std::to_string(subtask_) + "-" + std::to_string(next_part_);
  return options_.directory + "/" + (hidden ? "." + name + ".inprogress" : name);
}

void PartFileSequence::open_part() {
  current_.emplace(part_name(true), "file sink");
  opened_at_ = now_;
}

void PartFileSequence::publish_part() {
  std::string name = part_name(false);
  current_->publish(name);
  current_.reset();
  ++next_part_;
  log::connectors()->debug("{}: file sink published {}", task_name_, name);
}

}  // namespace sluice
