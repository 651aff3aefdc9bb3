// Split positions in checkpoints: what the connectors' readers keep in
// SplitPosition::position, and the checks a restore makes before it trusts
// them, so that a corrupt or mismatched checkpoint fails with an InputError
// naming the source and the split instead of misreading or crashing.
//
// A restored reader keeps the split count of its checkpoint: a split's
// position only means something in the plan it was taken in, and with splits
// fixed, rescaling just deals the same splits to another number of subtasks.
//
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "runtime/core/codec.h"
#include "runtime/core/errors.h"
#include "runtime/core/versioned.h"
#include "runtime/operator/source.h"

namespace sluice {

// The most splits a source may have, in its options and in a checkpoint.
inline constexpr int kMaxSplits = 1 << 16;

// Whether a split has ended, as a checkpoint stores it.
enum class SplitState : uint8_t {
  kReading = 0,   // records may follow
  kFinished = 1,  // no records follow; a restored reader still reports the end once
};
constexpr SplitState codec_enum_max(SplitState) {
  return SplitState::kFinished;
}

// InputError "SOURCE: corrupt checkpoint: position of split K: WHAT".
InputError corrupt_position(const std::string& source, int split, const std::string& what);

// Throws corrupt_position unless the position of `split` belongs to a plan of
// 1..kMaxSplits splits that has that split, agrees with the split count of
// the positions before it (`count_so_far`, 0 for none) and has a known state.
void check_position_of_plan(const std::string& source, int split, int32_t split_count,
                            SplitState state, int count_so_far);

// The split count of a restored reader: `checkpointed`, the count of its
// checkpoint. Throws UsageError when the options fix another count
// (`configured` > 0); 0 follows the checkpoint.
int restored_split_count(const std::string& source, int configured, int checkpointed);

// The positions of a checkpoint, decoded and checked to describe one plan.
template <class P>
struct RestoredPositions {
  int split_count = 0;  // the plan's split count; 0 when there were no positions
  std::map<int, P> by_split;
};

// Decodes every position in the versioned format P::kFormat of P, a struct
// with the fields `int32_t split_count` and `SplitState state`, and checks that together they
// describe one plan, each split at most once. Throws corrupt_position.
template <class P>
RestoredPositions<P> decode_positions(const std::string& source,
                                      const std::vector<SplitPosition>& positions) {
  RestoredPositions<P> restored;
  for (const SplitPosition& stored : positions) {
    P position;
    try {
      position = decode_versioned<P>(P::kFormat, stored.position);
    } catch (const InputError& error) {
      throw corrupt_position(source, stored.split, error.what());
    }
    check_position_of_plan(source, stored.split, position.split_count, position.state,
                           restored.split_count);
    restored.split_count = position.split_count;
    if (!restored.by_split.emplace(stored.split, position).second) {
      throw corrupt_position(source, stored.split, "the checkpoint holds two positions for it");
    }
  }
  return restored;
}

}  // namespace sluice
