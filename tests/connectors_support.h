// Helpers shared by the connectors tests (connectors_source_test.cc,
// connectors_slices_test.cc, connectors_restore_test.cc and
// connectors_sink_test.cc). The temp dirs and
// file reading come from tests/process_runner.h; this adds what only the
// connectors tests need: files of lines, and reading a source reader to its end.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "connectors/file_source_support.h"
#include "connectors/split_random.h"
#include "runtime/operator/record.h"
#include "runtime/operator/source.h"
#include "tests/process_runner.h"

namespace sluice::testing {

// write_file, but a file that cannot be written fails the test here rather
// than later as a puzzling difference in what was read.
inline void write_file_checked(const std::string& path, const std::string& content) {
  write_file(path, content);
  std::error_code error;
  ASSERT_EQ(std::filesystem::file_size(path, error), content.size())
      << "cannot write " << path << ": " << error.message();
}

// The lines of `content` as the file source should see them.
inline std::vector<std::string> lines_of(const std::string& content) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < content.size()) {
    size_t newline = content.find('\n', start);
    size_t end = newline == std::string::npos ? content.size() : newline;
    std::string line = content.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

// A line as read, with the line number the source reported for it.
struct Line {
  uint64_t number;
  std::string text;
  bool operator==(const Line&) const = default;
  bool operator<(const Line& other) const { return number < other.number; }
};

// A file source parse function for lines of one integer each; blank lines
// are not records.
inline std::optional<int> parse_number(std::string_view line, const LineLocation& where) {
  if (line.empty()) return std::nullopt;
  int value = 0;
  auto [rest, ec] = std::from_chars(line.data(), line.data() + line.size(), value);
  if (ec != std::errc() || rest != line.data() + line.size()) {
    throw where.error("not a number: '" + std::string(line) + "'");
  }
  return value;
}

// A file source parse function that keeps every line with its number.
inline constexpr auto keep_line = [](std::string_view line,
                                     const LineLocation& where) -> std::optional<Line> {
  return Line{where.line, std::string(line)};
};

// A file of `count` lines of varied length, one of them longer than small
// read buffers, with a trailing newline.
inline std::string varied_lines(int count) {
  std::string content;
  for (int i = 1; i <= count; ++i) {
    content += 'L';
    content += std::to_string(i);
    content.append((i * 7) % 40, 'x');
    if (i == count / 2) content += std::string(5000, 'y');
    content += '\n';
  }
  return content;
}

// The lines of `content` with their numbers, as keep_line records them.
inline std::vector<Line> expected_lines(const std::string& content) {
  std::vector<Line> lines;
  uint64_t number = 0;
  for (std::string& text : lines_of(content)) lines.push_back(Line{++number, std::move(text)});
  return lines;
}

// A generator record: its index and the first number of its SplitRandom.
struct Generated {
  uint64_t index;
  uint64_t random;
  bool operator==(const Generated&) const = default;
};

inline constexpr auto generate = [](uint64_t index, SplitRandom& rng) {
  return Generated{index, rng.next()};
};

inline SourceReaderContext reader_context(int subtask, int parallelism,
                                          JobMetrics* metrics = nullptr) {
  SourceReaderContext context;
  context.subtask = subtask;
  context.parallelism = parallelism;
  context.task_name = "test/source/" + std::to_string(subtask);
  context.metrics = metrics;
  return context;
}

// What one reader produced when read to the end.
template <class T>
struct Drained {
  std::vector<T> values;
  std::vector<int> record_splits;    // the split of every kRecords batch
  std::vector<int> finished_splits;  // kSplitFinished, in order
};

// Reads until kFinished, checking the status protocol on the way.
template <class T>
Drained<T> drain(SourceReader<T>& reader, size_t max_records, Timestamp now = 0) {
  Drained<T> drained;
  Batch<T> out;
  for (int call = 0; call < 1'000'000; ++call) {
    out.clear();
    ReadResult result = reader.read(out, max_records, now);
    switch (result.status) {
      case ReadStatus::kRecords:
        EXPECT_FALSE(out.empty());
        EXPECT_LE(out.size(), max_records);
        drained.record_splits.push_back(result.split);
        for (Record<T>& record : out) drained.values.push_back(std::move(record.value));
        break;
      case ReadStatus::kSplitFinished:
        EXPECT_TRUE(out.empty());
        drained.finished_splits.push_back(result.split);
        break;
      case ReadStatus::kNotYet:
        ADD_FAILURE() << "an unthrottled reader returned kNotYet";
        return drained;
      case ReadStatus::kSliceEnd:
        ADD_FAILURE() << "a reader without slices returned kSliceEnd";
        return drained;
      case ReadStatus::kFinished:
        EXPECT_TRUE(out.empty());
        EXPECT_EQ(reader.read(out, max_records, now).status, ReadStatus::kFinished);
        return drained;
    }
  }
  ADD_FAILURE() << "the reader never finished";
  return drained;
}

// Reads a source with every subtask of `parallelism`, each restored from
// `restore_from` when it is not empty, checking that each reader finishes
// exactly the splits it owns and no two own the same; returns all values.
template <class T>
std::vector<T> read_all(const Source<T>& source, int parallelism, size_t max_records = 7,
                        const std::vector<SplitPosition>& restore_from = {}) {
  std::vector<T> all;
  std::set<int> seen_splits;
  for (int subtask = 0; subtask < parallelism; ++subtask) {
    auto reader = source.create_reader(subtask, parallelism);
    reader->open(reader_context(subtask, parallelism));
    if (!restore_from.empty()) reader->restore_positions(restore_from);
    std::vector<int> owned = reader->splits();
    Drained<T> drained = drain(*reader, max_records);
    reader->close();
    std::vector<int> finished = drained.finished_splits;
    std::sort(finished.begin(), finished.end());
    EXPECT_EQ(finished, owned) << "subtask " << subtask;
    for (int split : drained.record_splits) {
      EXPECT_TRUE(std::count(owned.begin(), owned.end(), split)) << "foreign split " << split;
    }
    for (int split : owned) EXPECT_TRUE(seen_splits.insert(split).second) << "split twice";
    for (T& value : drained.values) all.push_back(std::move(value));
  }
  return all;
}

// The values of a batch that a source reader filled, in order.
template <class T>
std::vector<T> values_of(const Batch<T>& batch) {
  std::vector<T> values;
  values.reserve(batch.size());
  for (const Record<T>& record : batch) values.push_back(record.value);
  return values;
}

}  // namespace sluice::testing
