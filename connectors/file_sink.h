// File sinks: lines of text formatted from records by a format function
//
//   void format(const T& value, std::string& out);  // appends one line, no '\n'
//
// FileSink writes each subtask's lines to part files in an output directory
// and publishes them by atomic rename (see connectors/part_files.h for the
// naming, the rollover rules and the output contract). TextFileSink writes
// every line to one file at a given path, for jobs whose sink runs with
// parallelism 1; the file appears, complete, at the end of input.
//
// Threading: a sink is the plan, shared by all subtasks; each writer, with its
// own copy of the format function, runs on its task's thread.
// Lifecycle: create_writer -> open (creates the directory) -> write* ->
// finish (publishes) -> close. close() without finish() (a failure) publishes
// nothing: in-progress files stay under their hidden names. I/O failures
// throw ExternalError naming the file.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "connectors/line_format.h"
#include "connectors/part_files.h"
#include "connectors/staged_file.h"
#include "runtime/operator/sink.h"

namespace sluice {

template <class T, LineFormatter<T> FormatFn>
class FileSinkWriter final : public SinkWriter<T> {
 public:
  FileSinkWriter(const FileSinkOptions& options, FormatFn format)
      : parts_(options), format_(std::move(format)) {}

  void open(const SinkContext& context) override {
    clock_ = context.clock ? context.clock : &SystemClock::instance();
    parts_.open(context.subtask, context.parallelism, context.task_name,
                context.checkpointing ? PartPublishing::kTwoPhase : PartPublishing::kOnRoll);
  }
  std::string prepare_commit(int64_t checkpoint_id) override {
    return parts_.prepare(checkpoint_id);
  }
  void commit(int64_t checkpoint_id) override { parts_.commit(checkpoint_id); }
  void recover(const std::vector<std::string>& prepared) override { parts_.recover(prepared); }
  void write(Batch<T>& batch) override {
    parts_.on_time(clock_->now_ms());
    for (const Record<T>& record : batch) {
      format_(record.value, parts_.begin_line());
      parts_.end_line();
    }
  }
  void on_watermark(Timestamp) override { parts_.on_time(clock_->now_ms()); }
  void finish() override { parts_.finish(); }
  void close() override { parts_.close(); }

 private:
  PartFileSequence parts_;
  FormatFn format_;
  const Clock* clock_ = &SystemClock::instance();
};

template <class T, LineFormatter<T> FormatFn>
class FileSink final : public Sink<T> {
 public:
  // Throws UsageError for invalid options (see validate_file_sink_options).
  FileSink(FileSinkOptions options, FormatFn format)
      : options_(std::move(options)), format_(std::move(format)) {
    validate_file_sink_options(options_);
  }
  std::unique_ptr<SinkWriter<T>> create_writer() const override {
    return std::make_unique<FileSinkWriter<T, FormatFn>>(options_, format_);
  }
  const FileSinkOptions& options() const { return options_; }

 private:
  FileSinkOptions options_;
  FormatFn format_;
};

void validate_text_file_path(const std::string& path);

// The one file of a TextFileSink: written as "DIR/.NAME.inprogress" and
// renamed to "DIR/NAME" at finish.
class SingleTextFile {
 public:
  explicit SingleTextFile(std::string path) : path_(std::move(path)) {}

  // Throws UsageError unless the sink runs with parallelism 1; creates the
  // parent directory and the hidden file.
  void open(const SinkContext& context);
  std::string& begin_line() { return file_->buffer(); }
  void end_line() {
    file_->buffer().push_back('\n');
    file_->flush_if_full();
  }
  void finish();
  void close();

 private:
  const std::string path_;
  std::optional<StagedFile> file_;
};

template <class T, LineFormatter<T> FormatFn>
class TextFileSinkWriter final : public SinkWriter<T> {
 public:
  TextFileSinkWriter(const std::string& path, FormatFn format)
      : file_(path), format_(std::move(format)) {}

  void open(const SinkContext& context) override { file_.open(context); }
  void write(Batch<T>& batch) override {
    for (const Record<T>& record : batch) {
      format_(record.value, file_.begin_line());
      file_.end_line();
    }
  }
  void finish() override { file_.finish(); }
  void close() override { file_.close(); }

 private:
  SingleTextFile file_;
  FormatFn format_;
};

template <class T, LineFormatter<T> FormatFn>
class TextFileSink final : public Sink<T> {
 public:
  // Throws UsageError for an empty path or one that names a directory.
  TextFileSink(std::string path, FormatFn format)
      : path_(std::move(path)), format_(std::move(format)) {
    validate_text_file_path(path_);
  }
  std::unique_ptr<SinkWriter<T>> create_writer() const override {
    return std::make_unique<TextFileSinkWriter<T, FormatFn>>(path_, format_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  FormatFn format_;
};

}  // namespace sluice
