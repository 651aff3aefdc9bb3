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
// Micro-batch slices: a split's position is its next index, so a slice of n
// records ends n * splits further. What is available: bounded (count > 0),
// the split's first index >= count (the slice that reaches it ends the
// split); with a rate, what the throttle would have released since open()
// on the reader's clock, at rate / splits per split (the reader then makes
// a slice's records at once: the plan already paced them); unbounded without
// a rate, everything (a slice then holds kDefaultUnlimitedSliceRecords
// records unless max_records says otherwise).
//
// Threading: the GeneratorSource is the plan, shared by all subtasks; each
// reader, with its own copy of the function, runs on its task's thread.
// Lifecycle: create_reader -> open -> restore_positions (after a restore) ->
// read* (until kFinished when bounded) -> close.
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "connectors/slice_plan.h"
#include "connectors/split_assignment.h"
#include "connectors/split_positions.h"
#include "connectors/split_random.h"
#include "connectors/throttle.h"
#include "runtime/operator/source.h"

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
  static constexpr PersistedFormat kFormat{"generator split position", 1};
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
        rate_(options.rate),
        throttle_(options.rate / parallelism) {
    start_splits(options.splits > 0 ? options.splits : parallelism);
  }

  // Remembers the clock and the time the rate's availability counts from.
  void open(const SourceReaderContext& context) override {
    clock_ = context.clock != nullptr ? context.clock : &SystemClock::instance();
    opened_at_ = clock_->now_ms();
  }

  std::vector<int> splits() const override {
    std::vector<int> ids;
    for (const SplitCursor& split : splits_) ids.push_back(split.id);
    return ids;
  }

  // Takes the splits in turn, one batch each, so that all of them advance;
  // with slices, only those with records left in their slice.
  ReadResult read(Batch<T>& out, size_t max_records, Timestamp now) override {
    if (active_.empty()) return {ReadStatus::kFinished};
    if (slicing_ && !find_turn_in_slice()) return {ReadStatus::kSliceEnd};
    if (turn_ >= active_.size()) turn_ = 0;
    SplitCursor& split = splits_[active_[turn_]];
    if (exhausted(split)) return finish_split(turn_);
    size_t allowed = slicing_ ? max_records : throttle_.allowance(max_records, now);
    if (allowed == 0) return {ReadStatus::kNotYet, split.id, throttle_.next_allowed(now)};
    size_t made = 0;
    for (; made < allowed && !exhausted(split) && split.next < split.slice_end;
         ++made, split.next += stride_) {
      SplitRandom rng(seed_, split.next);
      out.emplace_back(generate_(split.next, rng), 0);
    }
    if (!slicing_) throttle_.consume(made);
    ++turn_;
    return {ReadStatus::kRecords, split.id};
  }

  std::vector<SplitPosition> snapshot_positions() const override {
    std::vector<SplitPosition> positions;
    for (const SplitCursor& split : splits_) {
      GeneratorSplitPosition position{static_cast<int32_t>(stride_), split.next, split.state};
      positions.push_back({split.id, encode_versioned(GeneratorSplitPosition::kFormat, position)});
    }
    return positions;
  }

  std::vector<SplitSlice> plan_slices(uint64_t max_records) override {
    std::vector<SplitSlice> slices;
    const uint64_t released = released_per_split();
    for (const SplitCursor& split : splits_) {
      slices.push_back(plan_slice(split, released, max_records));
    }
    return slices;
  }

  void start_slices(const std::vector<SplitSlice>& slices) override {
    slicing_ = true;
    for (SplitCursor& split : splits_) {
      split.slice_end = split.next;
      for (const SplitSlice& slice : slices) {
        if (slice.split == split.id) split.slice_end = from_slice_position(slice.end);
      }
    }
  }

  void restore_positions(const std::vector<SplitPosition>& positions) override {
    auto restored = decode_positions<GeneratorSplitPosition>(kSourceName, positions);
    if (restored.split_count == 0) return;  // nothing stored: start at the beginning
    start_splits(restored_split_count(kSourceName, configured_splits_, restored.split_count));
    for (SplitCursor& split : splits_) {
      auto stored = restored.by_split.find(split.id);
      if (stored == restored.by_split.end()) continue;
      check_generator_position(kSourceName, split.id, stored->second);
      split.next = split.opened_at = stored->second.next;
      split.state = stored->second.state;
    }
  }

 private:
  static constexpr const char* kSourceName = "generator source";

  struct SplitCursor {
    int id;
    uint64_t next;       // the next index this split makes
    uint64_t opened_at;  // `next` when the reader opened (or was restored)
    SplitState state = SplitState::kReading;
    // With slices: the index before which this slice stops.
    uint64_t slice_end = std::numeric_limits<uint64_t>::max();
  };

  // Owns the splits of a plan of `split_count`, each at its first index.
  void start_splits(int split_count) {
    stride_ = static_cast<uint64_t>(split_count);
    splits_.clear();
    active_.clear();
    for (int id : splits_of_subtask(split_count, subtask_, parallelism_)) {
      active_.push_back(splits_.size());
      splits_.push_back({id, static_cast<uint64_t>(id), static_cast<uint64_t>(id)});
    }
    turn_ = 0;
  }

  bool exhausted(const SplitCursor& split) const {
    return split.state == SplitState::kFinished || (count_ > 0 && split.next >= count_);
  }

  // Points turn_ at the next split, from turn_ on, that has records left in
  // its slice or an end to report; false when there is none.
  bool find_turn_in_slice() {
    for (size_t n = 0; n < active_.size(); ++n) {
      size_t turn = (turn_ + n) % active_.size();
      const SplitCursor& split = splits_[active_[turn]];
      if (exhausted(split) || split.next < split.slice_end) {
        turn_ = turn;
        return true;
      }
    }
    return false;
  }

  // The first index >= count in the sequence of `split` (count > 0).
  uint64_t end_of(const SplitCursor& split) const {
    const uint64_t first = static_cast<uint64_t>(split.id);
    if (first >= count_) return first;
    const uint64_t steps = (count_ - first) / stride_ + ((count_ - first) % stride_ != 0);
    return advanced(first, steps);
  }

  // With a rate: the records each split's throttle would have released since
  // open(), saturated below 2^63; without one, UINT64_MAX.
  uint64_t released_per_split() const {
    if (rate_ <= 0) return std::numeric_limits<uint64_t>::max();
    const Timestamp now = clock_ != nullptr ? clock_->now_ms() : opened_at_;
    const double elapsed_ms = static_cast<double>(std::max<Timestamp>(now - opened_at_, 0));
    // Multiplied first: whole rates and times give exact counts.
    const double released =
        std::floor(rate_ * elapsed_ms / (1000.0 * static_cast<double>(stride_)));
    constexpr double kCap = 9.0e18;  // below 2^63
    return released >= kCap ? static_cast<uint64_t>(kCap) : static_cast<uint64_t>(released);
  }

  // The slice of `split` from its position; `released` as released_per_split().
  SplitSlice plan_slice(const SplitCursor& split, uint64_t released, uint64_t max_records) const {
    const int64_t start = to_slice_position(split.next);
    SplitSlice slice{split.id, start, start, start, true};
    if (split.state == SplitState::kFinished) return slice;
    uint64_t available = std::numeric_limits<uint64_t>::max();
    if (count_ > 0) available = end_of(split);
    if (rate_ > 0) available = std::min(available, advanced(split.opened_at, released));
    slice.available = std::max(to_slice_position(available), start);
    slice.ended = count_ > 0 && available == end_of(split) &&
                  available <= static_cast<uint64_t>(kMaxSlicePosition);
    if (count_ == 0 && rate_ <= 0 && max_records == 0) max_records = kDefaultUnlimitedSliceRecords;
    slice.end = capped_slice_end(start, slice.available, max_records, stride_);
    return slice;
  }

  // `from` advanced by `records` of a split, saturated at UINT64_MAX.
  uint64_t advanced(uint64_t from, uint64_t records) const {
    const uint64_t room = std::numeric_limits<uint64_t>::max() - from;
    return records > room / stride_ ? std::numeric_limits<uint64_t>::max()
                                    : from + records * stride_;
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
  const double rate_;    // records per second over all splits; 0: no rate
  uint64_t stride_ = 1;  // the split count, the checkpoint's after a restore
  Throttle throttle_;
  std::vector<SplitCursor> splits_;  // every owned split, finished ones included
  std::vector<size_t> active_;       // indices in splits_ of those not reported finished
  size_t turn_ = 0;
  const Clock* clock_ = nullptr;  // the reader's, from open()
  Timestamp opened_at_ = 0;
  bool slicing_ = false;  // start_slices was called: read only up to each slice_end
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
