// Unit tests of the connectors' sources: split planning, the line reader,
// the file source (splits, parallelism, malformed lines, throttling), the
// throttle, the generator source and SplitRandom. Their micro-batch slices
// are tested in connectors_slices_test.cc.
// No sleeps: throttles run on explicit `now` values from a ManualClock.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "connectors/file_source.h"
#include "connectors/file_split.h"
#include "connectors/generator_source.h"
#include "connectors/line_reader.h"
#include "connectors/split_random.h"
#include "connectors/throttle.h"
#include "runtime/core/clock.h"
#include "runtime/core/errors.h"
#include "runtime/metrics/metrics.h"
#include "tests/connectors_support.h"

namespace sluice {
namespace {

using testing::drain;
using testing::Drained;
using testing::expected_lines;
using testing::generate;
using testing::Generated;
using testing::keep_line;
using testing::Line;
using testing::lines_of;
using testing::parse_number;
using testing::read_all;
using testing::reader_context;
using testing::TempDir;
using testing::values_of;
using testing::varied_lines;
using testing::write_file_checked;

// ---------------------------------------------------------------------------
// Split planning

TEST(SplitPlan, BoundariesAndLineNumbers) {
  TempDir dir;
  // Line starts: 0 (line 1), 2, 5, 9, 14 (line 5); size 20.
  write_file_checked(dir.file("in.txt"), "a\nbb\nccc\ndddd\neeeee\n");
  // Targets 6 and 13 move forward to the line starts 9 and 14.
  std::vector<FileSplit> expected = {{0, 0, 9, 1, 4}, {1, 9, 14, 4, 5}, {2, 14, 20, 5, 6}};
  EXPECT_EQ(plan_file_splits(dir.file("in.txt"), 3), expected);
  EXPECT_EQ(plan_file_splits(dir.file("in.txt"), 1), (std::vector<FileSplit>{{0, 0, 20, 1, 6}}));
}

TEST(SplitPlan, TargetOnALineStartStaysThere) {
  TempDir dir;
  write_file_checked(dir.file("in.txt"), "abc\ndef\n");  // size 8, target 4 is line 2's start
  std::vector<FileSplit> expected = {{0, 0, 4, 1, 2}, {1, 4, 8, 2, 3}};
  EXPECT_EQ(plan_file_splits(dir.file("in.txt"), 2), expected);
}

TEST(SplitPlan, FileWithoutTrailingNewline) {
  TempDir dir;
  write_file_checked(dir.file("in.txt"), "one\ntwo\nthree");  // size 13, target 6 -> 8
  // The unterminated last line counts: the end is line 4.
  std::vector<FileSplit> expected = {{0, 0, 8, 1, 3}, {1, 8, 13, 3, 4}};
  EXPECT_EQ(plan_file_splits(dir.file("in.txt"), 2), expected);

  FileSource source(FileSourceOptions{.path = dir.file("in.txt"), .splits = 2}, keep_line);
  std::vector<Line> lines = read_all(source, 1);
  EXPECT_EQ(lines, (std::vector<Line>{{1, "one"}, {2, "two"}, {3, "three"}}));
}

TEST(SplitPlan, EmptyFile) {
  TempDir dir;
  write_file_checked(dir.file("empty.txt"), "");
  std::vector<FileSplit> expected = {{0, 0, 0, 1, 1}, {1, 0, 0, 1, 1}, {2, 0, 0, 1, 1}};
  EXPECT_EQ(plan_file_splits(dir.file("empty.txt"), 3), expected);

  FileSource source(FileSourceOptions{.path = dir.file("empty.txt")}, keep_line);
  EXPECT_TRUE(read_all(source, 3).empty());
}

TEST(SplitPlan, CrlfLines) {
  TempDir dir;
  write_file_checked(dir.file("crlf.txt"), "x\r\ny\r\nzz\r\n");  // line starts 0, 3, 6; size 10
  std::vector<FileSplit> expected = {{0, 0, 6, 1, 3}, {1, 6, 10, 3, 4}};
  EXPECT_EQ(plan_file_splits(dir.file("crlf.txt"), 2), expected);

  FileSource source(FileSourceOptions{.path = dir.file("crlf.txt")}, keep_line);
  std::vector<Line> lines = read_all(source, 2);
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, (std::vector<Line>{{1, "x"}, {2, "y"}, {3, "zz"}}));
}

TEST(SplitPlan, LongLineLeavesEmptySplits) {
  TempDir dir;
  // Size 103; the targets 25, 51 and 77 all fall in the first line.
  write_file_checked(dir.file("in.txt"), std::string(100, 'a') + "\nb\n");
  std::vector<FileSplit> plan = plan_file_splits(dir.file("in.txt"), 4);
  std::vector<FileSplit> expected = {
      {0, 0, 101, 1, 2}, {1, 101, 101, 2, 2}, {2, 101, 101, 2, 2}, {3, 101, 103, 2, 3}};
  EXPECT_EQ(plan, expected);
}

// Every plan covers the file exactly, starts splits on line starts and
// numbers their first and end lines correctly, whatever the file and split
// count.
TEST(SplitPlan, CoversEveryByteOnce) {
  TempDir dir;
  SplitRandom rng(7, 0);
  for (int file = 0; file < 30; ++file) {
    std::string content;
    int lines = static_cast<int>(rng.below(40));
    for (int i = 0; i < lines; ++i) content += std::string(rng.below(30), 'q') + "\n";
    if (rng.chance(0.5)) content += "tail";
    write_file_checked(dir.file("f.txt"), content);
    for (int count : {1, 2, 3, 5, 16, 64}) {
      std::vector<FileSplit> plan = plan_file_splits(dir.file("f.txt"), count);
      ASSERT_EQ(plan.size(), static_cast<size_t>(count));
      EXPECT_EQ(plan.front().begin, 0u);
      EXPECT_EQ(plan.back().end, content.size());
      for (int k = 0; k < count; ++k) {
        const FileSplit& split = plan[k];
        EXPECT_EQ(split.id, k);
        EXPECT_LE(split.begin, split.end);
        if (k + 1 < count) {
          EXPECT_EQ(split.end, plan[k + 1].begin);
        }
        if (split.begin == split.end) {
          EXPECT_EQ(split.end_line, split.first_line);
          continue;
        }
        EXPECT_TRUE(split.begin == 0 || content[split.begin - 1] == '\n');
        auto newlines = std::count(content.begin(), content.begin() + split.begin, '\n');
        EXPECT_EQ(split.first_line, static_cast<uint64_t>(newlines) + 1);
        // One past the last line: the lines up to the end, plus one.
        auto lines_to_end = lines_of(content.substr(0, split.end)).size();
        EXPECT_EQ(split.end_line, lines_to_end + 1);
      }
    }
  }
}

TEST(SplitPlan, MissingFile) {
  TempDir dir;
  std::string path = dir.file("nope.txt");
  try {
    plan_file_splits(path, 2);
    FAIL() << "no error";
  } catch (const ExternalError& error) {
    EXPECT_EQ(std::string(error.what()),
              "file source: cannot open " + path + ": No such file or directory");
  }
}

// ---------------------------------------------------------------------------
// Line reader

TEST(LineReader, LinesAcrossTinyBuffer) {
  TempDir dir;
  std::string content = "first line\nsecond, longer line\n\nx\r\nlast";
  write_file_checked(dir.file("in.txt"), content);
  SplitLineReader reader(dir.file("in.txt"), 4);
  reader.start(FileSplit{0, 0, content.size(), 1});
  std::vector<std::string> lines;
  std::vector<uint64_t> numbers;
  std::string_view line;
  while (reader.next(line)) {
    lines.emplace_back(line);
    numbers.push_back(reader.line_number());
  }
  EXPECT_EQ(lines,
            (std::vector<std::string>{"first line", "second, longer line", "", "x", "last"}));
  EXPECT_EQ(numbers, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_FALSE(reader.next(line));
}

TEST(LineReader, TruncatedFileIsAnExternalError) {
  TempDir dir;
  write_file_checked(dir.file("in.txt"), "abc\n");
  SplitLineReader reader(dir.file("in.txt"));
  reader.start(FileSplit{0, 0, 100, 1});  // planned when the file was longer
  std::string_view line;
  EXPECT_TRUE(reader.next(line));
  EXPECT_THROW(reader.next(line), ExternalError);
}

// ---------------------------------------------------------------------------
// File source

class FileSourceParallelism : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(FileSourceParallelism, EveryLineExactlyOnce) {
  auto [parallelism, splits] = GetParam();
  TempDir dir;
  std::string content = varied_lines(1000);
  write_file_checked(dir.file("in.txt"), content);
  FileSource source(
      FileSourceOptions{.path = dir.file("in.txt"), .splits = splits, .read_buffer_bytes = 64},
      keep_line);
  std::vector<Line> lines = read_all(source, parallelism);
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, expected_lines(content));
}

INSTANTIATE_TEST_SUITE_P(Connectors, FileSourceParallelism,
                         ::testing::Values(std::tuple{1, 0}, std::tuple{3, 0}, std::tuple{3, 7},
                                           std::tuple{4, 2}));

TEST(FileSource, ReadsSplitsInOrderAndReportsEachEnd) {
  TempDir dir;
  write_file_checked(dir.file("in.txt"), "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n");
  FileSource source(FileSourceOptions{.path = dir.file("in.txt"), .splits = 4}, parse_number);
  auto reader = source.create_reader(1, 2);
  reader->open(reader_context(1, 2));
  EXPECT_EQ(reader->splits(), (std::vector<int>{1, 3}));
  Drained<int> drained = drain(*reader, 100);
  EXPECT_EQ(drained.finished_splits, (std::vector<int>{1, 3}));
  EXPECT_EQ(drained.record_splits, (std::vector<int>{1, 3}));
  // Size 21; targets 5, 10, 15 -> line starts 6 (line 4), 10 (6), 16 (9).
  EXPECT_EQ(drained.values, (std::vector<int>{4, 5, 9, 10}));
}

TEST(FileSource, BlankLinesAreDropped) {
  TempDir dir;
  write_file_checked(dir.file("in.txt"), "\n1\n\n\n2\n\n");
  FileSource source(FileSourceOptions{.path = dir.file("in.txt")}, parse_number);
  EXPECT_EQ(read_all(source, 1), (std::vector<int>{1, 2}));
}

TEST(FileSource, MalformedLineFailsWithItsLocation) {
  TempDir dir;
  std::string path = dir.file("numbers.txt");
  write_file_checked(path, "1\n2\nthree\n4\n");
  FileSource source(FileSourceOptions{.path = path, .splits = 2}, parse_number);
  try {
    read_all(source, 1);
    FAIL() << "no error";
  } catch (const InputError& error) {
    EXPECT_EQ(std::string(error.what()), path + ":3: not a number: 'three'");
  }
}

TEST(FileSource, ParseErrorWithoutLocationGetsOne) {
  TempDir dir;
  std::string path = dir.file("in.txt");
  write_file_checked(path, "ok\nbad\n");
  auto strict = [](std::string_view line, const LineLocation&) -> std::optional<std::string> {
    if (line == "bad") throw InputError("unknown word");
    return std::string(line);
  };
  FileSource source(FileSourceOptions{.path = path}, strict);
  try {
    read_all(source, 1);
    FAIL() << "no error";
  } catch (const InputError& error) {
    EXPECT_EQ(std::string(error.what()), path + ":2: unknown word");
  }
}

TEST(FileSource, MalformedLinesSkippedCountedAndNoted) {
  TempDir dir;
  std::string path = dir.file("numbers.txt");
  // Lines 2 and 3 are malformed and fall in one batch of two records.
  write_file_checked(path, "1\nx2\nw2\n3\n4\ny5\n6\n\n8\nz9\n");
  FileSource source(FileSourceOptions{.path = path, .on_error = OnError::kSkip}, parse_number);
  JobMetrics metrics;
  auto reader = source.create_reader(0, 1);
  reader->open(reader_context(0, 1, &metrics));
  Drained<int> drained = drain(*reader, 2);
  EXPECT_EQ(drained.values, (std::vector<int>{1, 3, 4, 6, 8}));
  EXPECT_EQ(metrics.skipped_records.value(), 4u);
  EXPECT_EQ(metrics.notes(), (std::vector<std::string>{path + ": skipped 4 malformed lines (first "
                                                              "at line 2: not a number: 'x2')"}));
}

TEST(FileSource, NoNoteWithoutSkippedLines) {
  TempDir dir;
  write_file_checked(dir.file("in.txt"), "1\n2\n");
  FileSource source(FileSourceOptions{.path = dir.file("in.txt"), .on_error = OnError::kSkip},
                    parse_number);
  JobMetrics metrics;
  auto reader = source.create_reader(0, 1);
  reader->open(reader_context(0, 1, &metrics));
  drain(*reader, 10);
  EXPECT_EQ(metrics.skipped_records.value(), 0u);
  EXPECT_TRUE(metrics.notes().empty());
}

TEST(FileSource, MissingFileIsACleanExternalError) {
  TempDir dir;
  std::string path = dir.file("missing.csv");
  FileSource source(FileSourceOptions{.path = path}, keep_line);
  auto reader = source.create_reader(0, 1);
  try {
    reader->open(reader_context(0, 1));
    FAIL() << "no error";
  } catch (const ExternalError& error) {
    EXPECT_EQ(std::string(error.what()),
              "file source: cannot open " + path + ": No such file or directory");
    EXPECT_TRUE(error.retryable());
  }
}

TEST(FileSource, OptionsAreChecked) {
  EXPECT_EQ(parse_on_error("fail"), OnError::kFail);
  EXPECT_EQ(parse_on_error("skip"), OnError::kSkip);
  EXPECT_THROW(parse_on_error("Skip"), UsageError);
  EXPECT_THROW(parse_on_error(""), UsageError);
  EXPECT_THROW(FileSource(FileSourceOptions{}, keep_line), UsageError);
  EXPECT_THROW(FileSource(FileSourceOptions{.path = "x", .rate = -1}, keep_line), UsageError);
  EXPECT_THROW(FileSource(FileSourceOptions{.path = "x", .splits = -2}, keep_line), UsageError);
}

TEST(FileSource, ThrottlesOnTheGivenTime) {
  TempDir dir;
  std::string content;
  for (int i = 0; i < 500; ++i) content += std::to_string(i) + "\n";
  write_file_checked(dir.file("in.txt"), content);
  // 2000 records/s over 2 subtasks: 1000/s each, bursts of at most 100.
  // One split: subtask 0 reads the whole file.
  FileSource source(FileSourceOptions{.path = dir.file("in.txt"), .rate = 2000, .splits = 1},
                    parse_number);
  auto reader = source.create_reader(0, 2);
  reader->open(reader_context(0, 2));
  ManualClock clock(1'000'000);
  Batch<int> out;

  auto read_count = [&](ReadStatus expected_status) {
    out.clear();
    ReadResult result = reader->read(out, 1024, clock.now_ms());
    EXPECT_EQ(result.status, expected_status);
    return std::pair{out.size(), result.retry_at};
  };

  EXPECT_EQ(read_count(ReadStatus::kRecords).first, 100u);  // the full bucket
  auto [none, retry_at] = read_count(ReadStatus::kNotYet);
  EXPECT_EQ(none, 0u);
  EXPECT_EQ(retry_at, clock.now_ms() + 1);
  clock.advance(1);
  EXPECT_EQ(read_count(ReadStatus::kRecords).first, 1u);
  clock.advance(50);
  EXPECT_EQ(read_count(ReadStatus::kRecords).first, 50u);
  clock.advance(10'000);  // a long pause earns one burst, not ten seconds' worth
  EXPECT_EQ(read_count(ReadStatus::kRecords).first, 100u);
}

TEST(FileSource, SlowRateWaitsForWholeRecords) {
  TempDir dir;
  write_file_checked(dir.file("in.txt"), "1\n2\n3\n4\n");
  FileSource source(FileSourceOptions{.path = dir.file("in.txt"), .rate = 10}, parse_number);
  auto reader = source.create_reader(0, 1);
  reader->open(reader_context(0, 1));
  ManualClock clock(5000);
  Batch<int> out;
  EXPECT_EQ(reader->read(out, 1024, clock.now_ms()).status, ReadStatus::kRecords);
  EXPECT_EQ(values_of(out), std::vector<int>{1});
  ReadResult waiting = reader->read(out, 1024, clock.now_ms());
  EXPECT_EQ(waiting.status, ReadStatus::kNotYet);
  EXPECT_EQ(waiting.retry_at, 5100);
  clock.set(5099);
  EXPECT_EQ(reader->read(out, 1024, clock.now_ms()).status, ReadStatus::kNotYet);
  clock.set(5100);
  EXPECT_EQ(reader->read(out, 1024, clock.now_ms()).status, ReadStatus::kRecords);
  EXPECT_EQ(values_of(out), (std::vector<int>{1, 2}));
}

// ---------------------------------------------------------------------------
// Throttle

TEST(Throttle, UnthrottledGrantsEverything) {
  Throttle throttle(0);
  EXPECT_EQ(throttle.allowance(5000, 0), 5000u);
  throttle.consume(5000);
  EXPECT_EQ(throttle.allowance(5000, 0), 5000u);
}

TEST(Throttle, AverageRateHolds) {
  Throttle throttle(250);  // 0.25 per ms, bursts of 25
  uint64_t sent = 0;
  for (Timestamp now = 0; now <= 10'000; now += 3) {
    size_t n = throttle.allowance(1000, now);
    throttle.consume(n);
    sent += n;
  }
  // The first burst, then 0.75 tokens per 3 ms up to 9999 ms: floor(2499.75).
  EXPECT_EQ(sent, 25u + 2499u);
}

// ---------------------------------------------------------------------------
// Generator source

std::vector<Generated> generate_all(GeneratorOptions options, int parallelism) {
  GeneratorSource source(options, generate);
  std::vector<Generated> all = read_all(source, parallelism, 100);
  std::sort(all.begin(), all.end(),
            [](const Generated& a, const Generated& b) { return a.index < b.index; });
  return all;
}

TEST(GeneratorSource, SameRecordsAtAnyParallelism) {
  GeneratorOptions options{.count = 1000, .seed = 42};
  std::vector<Generated> one = generate_all(options, 1);
  ASSERT_EQ(one.size(), 1000u);
  for (uint64_t i = 0; i < one.size(); ++i) EXPECT_EQ(one[i].index, i);
  EXPECT_EQ(generate_all(options, 3), one);
  options.splits = 5;
  EXPECT_EQ(generate_all(options, 2), one);
  GeneratorOptions other_seed{.count = 1000, .seed = 43};
  EXPECT_NE(generate_all(other_seed, 1), one);
}

TEST(GeneratorSource, SubtaskMakesItsShareOfIndices) {
  GeneratorSource source(GeneratorOptions{.count = 20}, generate);
  auto reader = source.create_reader(1, 3);
  reader->open(reader_context(1, 3));
  EXPECT_EQ(reader->splits(), std::vector<int>{1});
  Drained<Generated> drained = drain(*reader, 4);
  std::vector<uint64_t> indices;
  for (const Generated& g : drained.values) indices.push_back(g.index);
  EXPECT_EQ(indices, (std::vector<uint64_t>{1, 4, 7, 10, 13, 16, 19}));
  EXPECT_EQ(drained.finished_splits, std::vector<int>{1});
}

// An unbounded reader with two splits must advance both, or the split that
// waits would hold the watermark back forever.
TEST(GeneratorSource, TakesSplitsInTurn) {
  GeneratorSource source(GeneratorOptions{.splits = 2}, generate);
  auto reader = source.create_reader(0, 1);
  reader->open(reader_context(0, 1));
  std::vector<int> splits;
  std::vector<uint64_t> indices;
  for (int i = 0; i < 4; ++i) {
    Batch<Generated> out;
    ReadResult result = reader->read(out, 2, 0);
    ASSERT_EQ(result.status, ReadStatus::kRecords);
    splits.push_back(result.split);
    for (const Generated& g : values_of(out)) indices.push_back(g.index);
  }
  EXPECT_EQ(splits, (std::vector<int>{0, 1, 0, 1}));
  EXPECT_EQ(indices, (std::vector<uint64_t>{0, 2, 1, 3, 4, 6, 5, 7}));
}

TEST(GeneratorSource, UnboundedNeverFinishes) {
  GeneratorSource source(GeneratorOptions{}, generate);
  auto reader = source.create_reader(0, 1);
  reader->open(reader_context(0, 1));
  Batch<Generated> out;
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(reader->read(out, 1000, 0).status, ReadStatus::kRecords);
  }
  EXPECT_EQ(out.size(), 100'000u);
  EXPECT_EQ(out.back().value.index, 99'999u);
}

TEST(GeneratorSource, Throttles) {
  GeneratorSource source(GeneratorOptions{.rate = 3000}, generate);
  auto reader = source.create_reader(2, 3);  // 1000/s for this subtask
  reader->open(reader_context(2, 3));
  Batch<Generated> out;
  EXPECT_EQ(reader->read(out, 1024, 0).status, ReadStatus::kRecords);
  EXPECT_EQ(out.size(), 100u);
  ReadResult waiting = reader->read(out, 1024, 0);
  EXPECT_EQ(waiting.status, ReadStatus::kNotYet);
  EXPECT_EQ(waiting.retry_at, 1);
  EXPECT_EQ(reader->read(out, 1024, 20).status, ReadStatus::kRecords);
  EXPECT_EQ(out.size(), 120u);
}

TEST(SplitRandom, DeterministicAndInRange) {
  SplitRandom a(1, 5), b(1, 5), c(1, 6);
  uint64_t first = a.next();
  EXPECT_EQ(first, b.next());
  EXPECT_NE(first, c.next());
  SplitRandom rng(9, 9);
  std::set<int64_t> seen;
  for (int i = 0; i < 2000; ++i) {
    int64_t v = rng.between(-3, 3);
    EXPECT_GE(v, -3);
    EXPECT_LE(v, 3);
    seen.insert(v);
    double u = rng.unit();
    EXPECT_GE(u, 0.0);
    EXPECT_LT(u, 1.0);
    EXPECT_LT(rng.below(10), 10u);
  }
  EXPECT_EQ(seen.size(), 7u);
  EXPECT_EQ(rng.below(1), 0u);
}

}  // namespace
}  // namespace sluice
