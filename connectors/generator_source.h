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
// Threading: the GeneratorSource is the plan, shared by all subtasks; each
// reader, with its own copy of the function, runs on its task's thread.
// Lifecycle: create_reader -> open -> read* (until kFinished when bounded) ->
// close.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "connectors/split_assignment.h"
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
  // Number of splits; 0 (the default): one per subtask.
  int splits = 0;
};

// Throws UsageError for a negative or non-finite rate or a negative split count.
void validate_generator_options(const GeneratorOptions& options);

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
        stride_(options.splits > 0 ? options.splits : parallelism),
        ids_(splits_of_subtask(stride_, subtask, parallelism)),
        throttle_(options.rate / parallelism) {
    for (int id : ids_) active_.push_back({id, static_cast<uint64_t>(id)});
  }

  std::vector<int> splits() const override { return ids_; }

  // Takes the splits in turn, one batch each, so that all of them advance.
  ReadResult read(Batch<T>& out, size_t max_records, Timestamp now) override {
    if (active_.empty()) return {ReadStatus::kFinished};
    if (turn_ >= active_.size()) turn_ = 0;
    SplitCursor& split = active_[turn_];
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

 private:
  struct SplitCursor {
    int id;
    uint64_t next;  // the next index this split makes
  };

  bool exhausted(const SplitCursor& split) const { return count_ > 0 && split.next >= count_; }

  ReadResult finish_split(size_t position) {
    int id = active_[position].id;
    active_.erase(active_.begin() + static_cast<std::ptrdiff_t>(position));
    return {ReadStatus::kSplitFinished, id};
  }

  GenFn generate_;
  const uint64_t count_;
  const uint64_t seed_;
  const uint64_t stride_;
  const std::vector<int> ids_;
  Throttle throttle_;
  std::vector<SplitCursor> active_;
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
