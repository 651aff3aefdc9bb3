// A two-phase sink for tests of whole jobs: rows since the last barrier are
// staged; the barrier moves them into the prepared state (the checkpoint
// holds them); completion commits them into a CommitLog shared by every
// writer of every run. Like the file and Kafka sinks, a commit is
// idempotent per (run, checkpoint, subtask): a restore commits again what
// the restored checkpoint prepared without duplicating it, while rows that
// a run committed outside the checkpoints and a later run replays show up
// twice in the log.
//
// Threading: writers run on their tasks' threads; the log is locked.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "runtime/core/codec.h"
#include "runtime/operator/sink.h"

namespace sluice::testing {

template <class Row>
struct CommitLog {
  std::mutex mutex;
  std::vector<Row> rows;
  // (run, checkpoint, subtask) already applied.
  std::set<std::tuple<int64_t, int64_t, int32_t>> committed;
  int64_t runs = 0;               // writers opened, for run ids
  std::vector<int32_t> finished;  // subtasks whose writer saw the end of input
};

template <class Row>
class TwoPhaseSink final : public Sink<Row> {
 public:
  explicit TwoPhaseSink(std::shared_ptr<CommitLog<Row>> log) : log_(std::move(log)) {}
  std::unique_ptr<SinkWriter<Row>> create_writer() const override {
    return std::make_unique<Writer>(log_);
  }

 private:
  struct Prepared {
    int64_t run = 0;
    int64_t checkpoint = 0;
    int32_t subtask = 0;
    std::vector<Row> rows;
    SLUICE_FIELDS(run, checkpoint, subtask, rows)
  };

  class Writer final : public SinkWriter<Row> {
   public:
    explicit Writer(std::shared_ptr<CommitLog<Row>> log) : log_(std::move(log)) {}
    void open(const SinkContext& context) override {
      subtask_ = context.subtask;
      std::lock_guard lock(log_->mutex);
      run_ = ++log_->runs;
    }
    void write(Batch<Row>& batch) override {
      for (auto& r : batch) staged_.push_back(r.value);
    }
    std::string prepare_commit(int64_t id) override {
      Prepared p{run_, id, subtask_, std::move(staged_)};
      staged_.clear();
      std::string bytes = encode_to_string(p);
      prepared_[id] = std::move(p);
      return bytes;
    }
    void commit(int64_t id) override {
      for (auto it = prepared_.begin(); it != prepared_.end() && it->first <= id;) {
        apply(it->second);
        it = prepared_.erase(it);
      }
    }
    void recover(const std::vector<std::string>& prepared) override {
      for (const std::string& bytes : prepared) {
        if (!bytes.empty()) apply(decode_from_string<Prepared>(bytes));
      }
    }
    // The end of input publishes nothing: the job's final checkpoint
    // prepares the last rows and commits them.
    void finish() override {
      std::lock_guard lock(log_->mutex);
      log_->finished.push_back(subtask_);
    }

   private:
    void apply(const Prepared& p) {
      std::lock_guard lock(log_->mutex);
      if (!log_->committed.insert({p.run, p.checkpoint, p.subtask}).second) return;
      log_->rows.insert(log_->rows.end(), p.rows.begin(), p.rows.end());
    }
    std::shared_ptr<CommitLog<Row>> log_;
    int32_t subtask_ = 0;
    int64_t run_ = 0;
    std::vector<Row> staged_;
    std::map<int64_t, Prepared> prepared_;
  };
  std::shared_ptr<CommitLog<Row>> log_;
};

}  // namespace sluice::testing
