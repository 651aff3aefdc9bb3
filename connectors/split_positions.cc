#include "connectors/split_positions.h"

namespace sluice {

InputError corrupt_position(const std::string& source, int split, const std::string& what) {
  return InputError(source + ": corrupt checkpoint: position of split " + std::to_string(split) +
                    ": " + what);
}

void check_position_of_plan(const std::string& source, int split, int32_t split_count,
                            SplitState state, int count_so_far) {
  if (split_count < 1 || split_count > kMaxSplits) {
    throw corrupt_position(source, split,
                           "split count " + std::to_string(split_count) + " is not in 1.." +
                               std::to_string(kMaxSplits));
  }
  if (count_so_far != 0 && split_count != count_so_far) {
    throw corrupt_position(source, split,
                           "it belongs to a plan of " + std::to_string(split_count) +
                               " splits, another position to one of " +
                               std::to_string(count_so_far));
  }
  if (split < 0 || split >= split_count) {
    throw corrupt_position(
        source, split, "a plan of " + std::to_string(split_count) + " splits has no such split");
  }
}

int restored_split_count(const std::string& source, int configured, int checkpointed) {
  if (configured > 0 && configured != checkpointed) {
    throw UsageError(source + ": the checkpoint has " + std::to_string(checkpointed) +
                     " splits but the options ask for " + std::to_string(configured) +
                     "; a restored source keeps the split count of its checkpoint (set splits to " +
                     std::to_string(checkpointed) + " or 0)");
  }
  return checkpointed;
}

}  // namespace sluice
