#include "connectors/part_files.h"

#include <algorithm>
#include <climits>

#include "connectors/part_file_names.h"
#include "runtime/core/codec.h"
#include "runtime/core/errors.h"
#include "runtime/core/fault_injection.h"
#include "runtime/core/logging.h"
#include "runtime/core/versioned.h"

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

void PartFileSequence::open(int subtask, int parallelism, std::string task_name,
                            PartPublishing publishing) {
  subtask_ = subtask;
  parallelism_ = parallelism;
  task_name_ = std::move(task_name);
  two_phase_ = publishing == PartPublishing::kTwoPhase;
  if (two_phase_) run_token_ = new_run_token();
  create_directories(options_.directory, "file sink");
}

void PartFileSequence::on_time(Timestamp now) {
  now_ = now;
  if (two_phase_) return;  // parts roll at checkpoints
  if (!current_ || options_.rollover_interval == 0 || current_->size() == 0) return;
  if (opened_at_ == kMinTimestamp) {
    opened_at_ = now;  // opened before any time was known: its interval starts now
  } else if (now - opened_at_ >= options_.rollover_interval) {
    publish_part();
  }
}

void PartFileSequence::finish() {
  // In two-phase mode this stages the last part: the job's final
  // checkpoint prepares it and commits it when it completes.
  if (current_) publish_part();
}

// A sink subtask's checkpoint state in two-phase mode.
struct PreparedParts {
  static constexpr PersistedFormat kFormat{"file sink state", 1};
  std::string run_token;
  int32_t subtask = 0;
  uint64_t next_part = 0;  // parts numbered from here on came after the checkpoint
  std::vector<std::pair<std::string, std::string>> renames;  // pending -> final
  SLUICE_FIELDS(run_token, subtask, next_part, renames)
};

std::string PartFileSequence::prepare(int64_t id) {
  if (current_ && current_->size() > 0) publish_part();
  SLUICE_FAULT_POINT("file-sink.part-staged");
  prepared_[id] = std::move(staged_);
  staged_.clear();
  // Every rename not committed yet: a checkpoint before `id` may have been
  // aborted, and its parts are committed with this one.
  std::vector<std::pair<std::string, std::string>> uncommitted;
  for (const auto& [checkpoint, renames] : prepared_) {
    uncommitted.insert(uncommitted.end(), renames.begin(), renames.end());
  }
  return encode_versioned(PreparedParts::kFormat,
                          PreparedParts{run_token_, subtask_, next_part_, std::move(uncommitted)});
}

void PartFileSequence::commit(int64_t id) {
  for (auto it = prepared_.begin(); it != prepared_.end() && it->first <= id;) {
    commit_renames(options_.directory, it->second);
    it = prepared_.erase(it);
  }
}

void PartFileSequence::recover(const std::vector<std::string>& prepared) {
  std::vector<std::string> listed;
  for (const std::string& bytes : prepared) {
    if (bytes.empty()) continue;
    PreparedParts parts = decode_versioned<PreparedParts>(PreparedParts::kFormat, bytes);
    if (subtask_ == 0) {
      commit_renames(options_.directory, parts.renames);
      delete_parts_after(options_.directory, parts.run_token, parts.subtask, parts.next_part);
    }
    for (const auto& [pending, final_name] : parts.renames) listed.push_back(pending);
  }
  delete_unlisted_files(listed);
}

// Hidden parts of earlier runs that no restored checkpoint lists belong to
// output that was never committed. Subtask S deletes those named S (and
// subtask 0 those of subtasks that no longer exist).
void PartFileSequence::delete_unlisted_files(const std::vector<std::string>& listed) const {
  for (const std::string& name : hidden_parts_of_other_runs(options_.directory, run_token_)) {
    int owner = subtask_of_part(name);
    bool mine = owner == subtask_ || (subtask_ == 0 && owner >= parallelism_);
    if (!mine || std::find(listed.begin(), listed.end(), name) != listed.end()) continue;
    remove_file(options_.directory + "/" + name);
    log::connectors()->info("{}: file sink discarded uncommitted {}", task_name_, name);
  }
}

void PartFileSequence::close() {
  if (!current_) return;
  current_->abandon();
  log::connectors()->info("{}: file sink left unpublished {}", task_name_, part_name(true));
  current_.reset();
}

std::string PartFileSequence::part_name(bool hidden) const {
  std::string name = "part-" + std::to_string(subtask_) + "-" +
                     (two_phase_ ? run_token_ + "-" : "") + std::to_string(next_part_);
  return options_.directory + "/" + (hidden ? "." + name + ".inprogress" : name);
}

void PartFileSequence::open_part() {
  current_.emplace(part_name(true), "file sink");
  opened_at_ = now_;
}

void PartFileSequence::publish_part() {
  if (two_phase_) {
    stage_part();
    return;
  }
  std::string name = part_name(false);
  current_->publish(name);
  current_.reset();
  ++next_part_;
  log::connectors()->debug("{}: file sink published {}", task_name_, name);
}

// Two-phase mode: the part becomes a hidden pending file, to be renamed to
// its final name when its checkpoint completes.
void PartFileSequence::stage_part() {
  std::string final_name = part_name(false);
  std::string base = final_name.substr(options_.directory.size() + 1);
  std::string pending = "." + base + ".pending";
  current_->publish(options_.directory + "/" + pending);
  current_.reset();
  ++next_part_;
  staged_.emplace_back(pending, base);
}

}  // namespace sluice
