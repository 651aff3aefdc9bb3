// Which splits a source subtask owns: split k goes to subtask k % parallelism.
// Pure functions; any thread.
#pragma once

#include <string>
#include <vector>

#include "runtime/core/errors.h"

namespace sluice {

// Throws an internal error unless 0 <= subtask < parallelism: the runtime
// asked for a reader that cannot exist.
inline void check_subtask(int subtask, int parallelism) {
  if (parallelism < 1 || subtask < 0 || subtask >= parallelism) {
    throw SluiceError(ErrorKind::kInternal, "source reader requested for subtask " +
                                                std::to_string(subtask) + " of parallelism " +
                                                std::to_string(parallelism));
  }
}

inline std::vector<int> splits_of_subtask(int split_count, int subtask, int parallelism) {
  std::vector<int> ids;
  for (int k = subtask; k < split_count; k += parallelism) ids.push_back(k);
  return ids;
}

}  // namespace sluice
