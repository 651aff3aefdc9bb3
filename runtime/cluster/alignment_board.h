// Watermark alignment across task managers (runtime/time/watermark_alignment.h):
// the job manager's board of each task manager's minimum watermark of its
// aligned sources, for one job. Every heartbeat brings a task manager's
// minimum and takes back the minimum of the others, so a source there
// holds back to the slowest source anywhere, late by a heartbeat interval
// at most. Reports of an older attempt are ignored; a newer attempt starts
// an empty board. A task manager that has not reported holds nothing back.
//
// Threading: used on the job manager's thread only.
#pragma once

#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include "runtime/core/time.h"

namespace sluice {

class AlignmentBoard {
 public:
  // Records `task_manager`'s minimum for `attempt` (nullopt: its sources
  // hold nothing back) and returns the other task managers' minimum, or
  // nullopt when none of them holds anything back. A report of an attempt
  // older than the board's changes nothing.
  std::optional<Timestamp> exchange(const std::string& task_manager, int attempt,
                                    std::optional<Timestamp> minimum) {
    if (attempt > attempt_) {
      attempt_ = attempt;
      minima_.clear();
    }
    if (attempt == attempt_) minima_[task_manager] = minimum;
    std::optional<Timestamp> others;
    for (const auto& [id, value] : minima_) {
      if (id == task_manager || !value) continue;
      others = others ? std::min(*others, *value) : *value;
    }
    return others;
  }

 private:
  int attempt_ = -1;
  std::map<std::string, std::optional<Timestamp>> minima_;
};

}  // namespace sluice
