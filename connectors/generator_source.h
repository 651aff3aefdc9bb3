// GeneratorSource: a source that makes records with a generator function
//
//   T generate(uint64_t index, SplitRandom& rng);
//
// Record `index` depends only on (seed, index), so a job generates the same
// records at any parallelism. Indices are dealt to splits round-robin (split
// k makes indices i with i % splits == k) and split k is read by subtask
// k % parallelism; with the default one split per subtask, subtask i makes
// the indices i, i + p, i + 2p, ...
//
// Checkpoints: a split's position is the next index it makes and whether it
// has finished (GeneratorSplitPosition). A restored reader keeps its
// checkpoint's split count and makes exactly the indices that follow.
//
// Threading: the GeneratorSource is the plan, shared by all subtasks; each
// reader, with its own copy of the function, runs on its task's thread.
// Lifecycle: create_reader -> open -> restore_positions (after a restore) ->
// read* (until kFinished when bounded) -> close.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "connectors/split_assignment.h"
#include "connectors/split_positions.h"
#include "connectors/split_random.h"
#include "connectors/throttle.h"
#include "runtime/api/source.h"

namespace sluice {

struct GeneratorOptions {
  // Records over all subtasks; 0 (the default): unbounded.
  uint64_t count = 0;
  // Records per second over all subtasks; each keeps to rate / parallelism.
  // 0 (the default): as fast as downstream takes them.
  double rate = 0;
  // Seeds every record's SplitRandom. Default 0.
  uint64_t seed = 0;
  // Number of splits, at most kMaxSplits; 0 (the default): one per subtask.
  // A restored source keeps the count of its checkpoint.
  int splits = 0;
};

// Throws UsageError for a negative or non-finite rate or a split count
// outside 0..kMaxSplits.
void validate_generator_options(const GeneratorOptions& options);

// Where one split of a generator stands, as a checkpoint stores it.
struct GeneratorSplitPosition {
  int32_t split_count = 0;  // splits in the plan: the stride of the indices
  uint64_t next = 0;        // the next index the split makes
  SplitState state = SplitState::kReading;
  SLUICE_FIELDS(split_count, next, state)
};

// Throws corrupt_position unless `next` is an index of split `split`; the
// split count was checked by decode_positions.
void check_generator_position(const std::string& source, int split,
                              const GeneratorSplitPosition& position);

template <class F, class T>
concept RecordGenerator = std::copy_constructible<F> &&
    requires(F& generate, uint64_t index, SplitRandom& rng) {
  { generate(index, rng) } -> std::convertible_to<T>;
};

template <class T, RecordGenerator<T> GenFn>
class GeneratorReader final : public SourceReader<T> {
 public:
  GeneratorReader(const GeneratorOptions& options, GenFn generate, int subtask, int parallelism)
      : generate_(std::move(generate)),
        count_(options.count),
        seed_(options.seed),
        configured_splits_(options.splits),
        subtask_(subtask),
        parallelism_(parallelism),
        throttle_(options.rate / parallelism) {
    start_splits(options.splits > 0 ? options.splits : parallelism);
  }

  std::vector<int> splits() const override {
    std::vector<int> ids;
    for (const SplitCursor& split : splits_) ids.push_back(split.id);
    return ids;
  }

  // Takes the splits in turn, one batch each, so that all of them advance.
  ReadResult read(Batch<T>& out, size_t max_records, Timestamp now) override {
    if (active_.empty()) return {ReadStatus::kFinished};
    if (turn_ >= active_.size()) turn_ = 0;
    SplitCursor& split = splits_[active_[turn_]];
    if (exhausted(split)) return finish_split(turn_);
    size_t allowed = throttle_.allowance(max_records, now);
    if (allowed == 0) return {ReadStatus::kNotYet, split.id, throttle_.next_allowed(now)};
    size_t made = 0;
    for (; made < allowed && !exhausted(split); ++made, split.next += stride_) {
      SplitRandom rng(seed_, split.next);
      out.emplace_back(generate_(split.next, rng), 0);
    }
    throttle_.consume(made);
    ++turn_;
    return {ReadStatus::kRecords, split.id};
  }

  std::vector<SplitPosition> snapshot_positions() const override {
    std::vector<SplitPosition> positions;
    for (const SplitCursor& split : splits_) {
      GeneratorSplitPosition position{static_cast<int32_t>(stride_), split.next, split.state};
      positions.push_back({split.id, encode_to_string(position)});
    }
    return positions;
  }

  void restore_positions(const std::vector<SplitPosition>& positions) override {
    auto restored = decode_positions<GeneratorSplitPosition>(kSourceName, positions);
    if (restored.split_count == 0) return;  // nothing stored: start at the beginning
    start_splits(restored_split_count(kSourceName, configured_splits_, restored.split_count));
    for (SplitCursor& split : splits_) {
      auto stored = restored.by_split.find(split.id);
      if (stored == restored.by_split.end()) continue;
      check_generator_position(kSourceName, split.id, stored->second);
      split.next = stored->second.next;
      split.state = stored->second.state;
    }
  }

 private:
  static constexpr const char* kSourceName = "generator source";

  struct SplitCursor {
    int id;
    uint64_t next;  // the next index this split makes
    SplitState state = SplitState::kReading;
  };

  // Owns the splits of a plan of `split_count`, each at its first index.
  void start_splits(int split_count) {
    stride_ = static_cast<uint64_t>(split_count);
    splits_.clear();
    active_.clear();
    for (int id : splits_of_subtask(split_count, subtask_, parallelism_)) {
      active_.push_back(splits_.size());
      splits_.push_back({id, static_cast<uint64_t>(id)});
    }
    turn_ = 0;
  }

  bool exhausted(const SplitCursor& split) const {
    return split.state == SplitState::kFinished || (count_ > 0 && split.next >= count_);
  }

  ReadResult finish_split(size_t turn) {
    SplitCursor& split = splits_[active_[turn]];
    split.state = SplitState::kFinished;
    active_.erase(active_.begin() + static_cast<std::ptrdiff_t>(turn));
    return {ReadStatus::kSplitFinished, split.id};
  }

  GenFn generate_;
  const uint64_t count_;
  const uint64_t seed_;
  const int configured_splits_;  // options.splits: 0 for one per subtask
  const int subtask_;
  const int parallelism_;
  uint64_t stride_ = 1;  // the split count, the checkpoint's after a restore
  Throttle throttle_;
  std::vector<SplitCursor> splits_;  // every owned split, finished ones included
  std::vector<size_t> active_;       // indices in splits_ of those not reported finished
  size_t turn_ = 0;
};

template <class T, RecordGenerator<T> GenFn>
class GeneratorSource final : public Source<T> {
 public:
  // Throws UsageError for invalid options (see validate_generator_options).
  GeneratorSource(GeneratorOptions options, GenFn generate)
      : options_(options), generate_(std::move(generate)) {
    validate_generator_options(options_);
  }

  std::unique_ptr<SourceReader<T>> create_reader(int subtask, int parallelism) const override {
    check_subtask(subtask, parallelism);
    return std::make_unique<GeneratorReader<T, GenFn>>(options_, generate_, subtask, parallelism);
  }

  const GeneratorOptions& options() const { return options_; }

 private:
  GeneratorOptions options_;
  GenFn generate_;
};

template <class GenFn>
GeneratorSource(GeneratorOptions, GenFn)
    -> GeneratorSource<std::invoke_result_t<GenFn&, uint64_t, SplitRandom&>, GenFn>;

}  // namespace sluice
