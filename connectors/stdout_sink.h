// StdoutSink: prints one line per record to standard output, formatted by
//
//   void format(const T& value, std::string& out);  // appends one line, no '\n'
//
// Each writer formats a whole batch into its own buffer and prints it under
// one process-wide lock, so lines of different subtasks (and of different
// stdout sinks) never interleave mid-line. With max_lines set, the sink prints
// the first max_lines lines over all its subtasks and only counts the rest.
//
// Threading: the sink is shared by all subtasks; each writer runs on its
// task's thread; lines_printed/lines_suppressed may be read from any thread.
// Lifecycle: create_writer -> open -> write* -> finish -> close. Printing
// failures (a closed pipe, a full disk) throw ExternalError.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "connectors/line_format.h"
#include "runtime/operator/sink.h"

namespace sluice {

struct StdoutSinkOptions {
  // Lines to print over all subtasks before printing stops (later lines are
  // counted). 0 (the default): no limit.
  uint64_t max_lines = 0;
  // Where to print; nullptr (the default) is stdout. Tests pass a temporary file.
  std::FILE* stream = nullptr;
};

// The line budget and counters shared by the writers of one StdoutSink.
class StdoutLines {
 public:
  explicit StdoutLines(const StdoutSinkOptions& options);

  // How many of `wanted` lines may still be printed; the rest are counted
  // as suppressed.
  uint64_t claim(uint64_t wanted);
  // Prints `text` (whole lines) under the process-wide stdout lock and
  // flushes it.
  void print(std::string_view text);

  uint64_t printed() const { return printed_.load(std::memory_order_relaxed); }
  uint64_t suppressed() const { return suppressed_.load(std::memory_order_relaxed); }

 private:
  const uint64_t max_lines_;
  std::FILE* const stream_;
  std::atomic<uint64_t> printed_{0};
  std::atomic<uint64_t> suppressed_{0};
};

template <class T, LineFormatter<T> FormatFn>
class StdoutSinkWriter final : public SinkWriter<T> {
 public:
  StdoutSinkWriter(std::shared_ptr<StdoutLines> lines, FormatFn format)
      : lines_(std::move(lines)), format_(std::move(format)) {}

  void write(Batch<T>& batch) override {
    uint64_t allowed = lines_->claim(batch.size());
    if (allowed == 0) return;
    buffer_.clear();
    for (uint64_t i = 0; i < allowed; ++i) {
      format_(batch[i].value, buffer_);
      buffer_.push_back('\n');
    }
    lines_->print(buffer_);
  }

 private:
  std::shared_ptr<StdoutLines> lines_;
  FormatFn format_;
  std::string buffer_;
};

template <class T, LineFormatter<T> FormatFn>
class StdoutSink final : public Sink<T> {
 public:
  explicit StdoutSink(FormatFn format, StdoutSinkOptions options = {})
      : lines_(std::make_shared<StdoutLines>(options)), format_(std::move(format)) {}

  std::unique_ptr<SinkWriter<T>> create_writer() const override {
    return std::make_unique<StdoutSinkWriter<T, FormatFn>>(lines_, format_);
  }

  // Lines printed and lines held back by max_lines so far, over all writers.
  uint64_t lines_printed() const { return lines_->printed(); }
  uint64_t lines_suppressed() const { return lines_->suppressed(); }

 private:
  std::shared_ptr<StdoutLines> lines_;
  FormatFn format_;
};

}  // namespace sluice
