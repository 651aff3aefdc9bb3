// Fakes shared by the runtime tests: a source over an in-memory vector.
// (Sinks that collect records are connectors/collect_sink.h.)
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/core/codec.h"
#include "runtime/core/errors.h"
#include "runtime/network/channel.h"
#include "runtime/operator/sink.h"
#include "runtime/operator/source.h"

namespace sluice::testing {

// Counts the pops a channel reports, as the data plane would to return
// credits.
struct CountingPopListener final : PopListener {
  void on_pop() override { ++pops; }
  int pops = 0;
};

// Polls `condition` until it holds or `timeout` passes (generous: the
// machine may be busy with other builds).
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // sleep-ok: bounded poll
  }
  return true;
}

// A bounded source over fixed values; split i holds the values at positions
// p with p % splits == i; subtask s reads splits with i % parallelism == s.
// A split's checkpoint position is the next position it reads (a uint64_t).
template <class T>
class VectorSource final : public Source<T> {
 public:
  explicit VectorSource(std::vector<T> values, int splits = 1)
      : values_(std::make_shared<const std::vector<T>>(std::move(values))), splits_(splits) {}

  std::unique_ptr<SourceReader<T>> create_reader(int subtask, int parallelism) const override {
    std::vector<int> mine;
    for (int i = subtask; i < splits_; i += parallelism) mine.push_back(i);
    return std::make_unique<Reader>(values_, splits_, std::move(mine));
  }

 private:
  class Reader final : public SourceReader<T> {
   public:
    Reader(std::shared_ptr<const std::vector<T>> values, int splits, std::vector<int> mine)
        : values_(std::move(values)), splits_(splits), mine_(std::move(mine)) {
      for (int s : mine_) positions_.push_back(static_cast<size_t>(s));
    }
    std::vector<int> splits() const override { return mine_; }
    ReadResult read(Batch<T>& out, size_t max_records, Timestamp) override {
      while (current_ < mine_.size()) {
        size_t& pos = positions_[current_];
        if (pos >= values_->size()) {
          return ReadResult{ReadStatus::kSplitFinished, mine_[current_++], 0};
        }
        while (pos < values_->size() && out.size() < max_records) {
          out.push_back(Record<T>{(*values_)[pos], 0});
          pos += static_cast<size_t>(splits_);
        }
        return ReadResult{ReadStatus::kRecords, mine_[current_], 0};
      }
      return ReadResult{ReadStatus::kFinished, 0, 0};
    }

    std::vector<SplitPosition> snapshot_positions() const override {
      std::vector<SplitPosition> out;
      for (size_t i = 0; i < mine_.size(); ++i) {
        out.push_back(SplitPosition{mine_[i], encode_to_string<uint64_t>(positions_[i])});
      }
      return out;
    }

    void restore_positions(const std::vector<SplitPosition>& positions) override {
      for (const SplitPosition& stored : positions) {
        auto owned = std::find(mine_.begin(), mine_.end(), stored.split);
        if (owned == mine_.end()) continue;
        positions_[static_cast<size_t>(owned - mine_.begin())] = decode(stored);
      }
      current_ = 0;
    }

   private:
    size_t decode(const SplitPosition& stored) const {
      const std::string where =
          "vector source: corrupt position of split " + std::to_string(stored.split) + ": ";
      uint64_t next = 0;
      try {
        next = decode_from_string<uint64_t>(stored.position);
      } catch (const InputError& error) {
        throw InputError(where + error.what());
      }
      if (next % static_cast<uint64_t>(splits_) != static_cast<uint64_t>(stored.split)) {
        throw InputError(where + std::to_string(next) + " is not one of its positions");
      }
      return static_cast<size_t>(next);
    }

    std::shared_ptr<const std::vector<T>> values_;
    int splits_;
    std::vector<int> mine_;
    std::vector<size_t> positions_;
    size_t current_ = 0;
  };

  std::shared_ptr<const std::vector<T>> values_;
  int splits_;
};

template <class T>
std::vector<T> sorted(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace sluice::testing
