// The part files of one file sink subtask: lines go to a hidden in-progress
// file ".part-S-N.inprogress" that is published by rename as "part-S-N" when
// it reaches its size limit, when its rollover interval has passed, or at the
// end of input; N counts up from 0. Output contract: the committed output is
// the files in the directory whose names start with neither '.' nor '_'.
//
// With checkpoints (two-phase mode, design section 8) parts are named
// ".part-S-R-N.inprogress" (R: a token of this run), roll into hidden
// ".part-S-R-N.pending" files at each checkpoint barrier (prepare), and are
// renamed to "part-S-R-N" once their checkpoint completed (commit). The
// prepared renames, with the run token and the number of parts staged so
// far, are the sink's checkpoint state. After a restore the renames are
// committed again (renames are idempotent), hidden files of earlier runs
// that no checkpoint lists are deleted, and so are the restored run's parts
// numbered after the checkpoint, committed ones included: the replay writes
// their records again (this happens when a corrupt newest checkpoint makes
// the job resume from an older one). No rollover by time in this mode.
//
// Threading: owned by one sink writer, on its task's thread.
// Lifecycle: construct -> open(subtask) -> [recover] -> (on_time | begin_line,
// end_line | prepare | commit)* -> finish() -> (prepare | commit)* ->
// close(); close() publishes nothing and leaves uncommitted files hidden.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "connectors/staged_file.h"
#include "runtime/core/time.h"

namespace sluice {

struct FileSinkOptions {
  // The output directory; created with its parents if missing. Required.
  std::string directory;
  // A part file is published once it holds at least this many bytes (it may
  // exceed the limit by its last line). Default 64 MiB.
  uint64_t max_file_bytes = uint64_t{64} << 20;
  // A non-empty part file is published once this much processing time has
  // passed since it was opened; checked when records or watermarks arrive.
  // 0: only size and the end of input publish. Default 2 s.
  DurationMs rollover_interval = 2000;
};

// Throws UsageError for an empty directory or a zero size limit, or a
// negative interval.
void validate_file_sink_options(const FileSinkOptions& options);

// When a part becomes visible: as soon as it rolls, or (exactly-once)
// when the checkpoint after it completes.
enum class PartPublishing { kOnRoll, kTwoPhase };

class PartFileSequence {
 public:
  explicit PartFileSequence(FileSinkOptions options) : options_(std::move(options)) {}

  // Creates the directory. `task_name` is for log lines. With kTwoPhase,
  // parts are staged for checkpoints as described above.
  void open(int subtask, int parallelism, std::string task_name,
            PartPublishing publishing = PartPublishing::kOnRoll);
  // Two-phase mode: rolls the open part into a pending file and returns the
  // renames that checkpoint `id` must commit (encoded): its own and those of
  // earlier checkpoints not committed yet (aborted ones).
  std::string prepare(int64_t id);
  // Two-phase mode: renames every part prepared up to checkpoint `id`.
  void commit(int64_t id);
  // Two-phase mode, after a restore: commits every listed rename (subtask 0
  // does) and deletes this subtask's share of unlisted hidden files.
  void recover(const std::vector<std::string>& prepared);
  // Processing time is `now`: publishes the open part if its interval passed.
  void on_time(Timestamp now);
  // The buffer to append one line to, without its '\n'; opens a part if
  // none is open.
  std::string& begin_line() {
    if (!current_) open_part();
    return current_->buffer();
  }
  // Ends the line begun with begin_line().
  void end_line() {
    current_->buffer().push_back('\n');
    current_->flush_if_full();
    if (current_->size() >= options_.max_file_bytes) publish_part();
  }
  // End of input: publishes the open part (two-phase mode: stages it for
  // the final checkpoint).
  void finish();
  // Abandons an open part (after a failure); publishes nothing.
  void close();

  // How many part files this subtask has published.
  uint64_t published() const { return next_part_; }

 private:
  void open_part();
  void publish_part();
  std::string part_name(bool hidden) const;
  void stage_part();
  void delete_unlisted_files(const std::vector<std::string>& listed) const;

  const FileSinkOptions options_;
  int subtask_ = 0;
  int parallelism_ = 1;
  bool two_phase_ = false;
  std::string run_token_;
  // Two-phase mode: staged renames (pending name -> final name), not yet in
  // a checkpoint, and per checkpoint.
  std::vector<std::pair<std::string, std::string>> staged_;
  std::map<int64_t, std::vector<std::pair<std::string, std::string>>> prepared_;
  std::string task_name_;
  std::optional<StagedFile> current_;
  uint64_t next_part_ = 0;
  Timestamp now_ = kMinTimestamp;  // the last processing time seen
  Timestamp opened_at_ = kMinTimestamp;
};

}  // namespace sluice
