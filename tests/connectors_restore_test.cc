// Checkpoint positions of the connectors' sources. Every reader of an old run
// stops somewhere and snapshots its splits; the readers of a new run, at any
// parallelism, restore from the union of those positions and read to the
// end; both runs together must read the input exactly once. Also: the line
// reader's position, throttling after a restore, and corrupt or mismatched
// positions, which must fail with a clear error.
#include <algorithm>
#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "connectors/file_source.h"
#include "connectors/file_split.h"
#include "connectors/generator_source.h"
#include "connectors/line_reader.h"
#include "connectors/split_positions.h"
#include "connectors/split_random.h"
#include "runtime/core/codec.h"
#include "runtime/core/errors.h"
#include "tests/connectors_support.h"
#include "tests/test_support.h"

namespace sluice {
namespace {

using testing::expected_lines;
using testing::generate;
using testing::Generated;
using testing::keep_line;
using testing::Line;
using testing::read_all;
using testing::reader_context;
using testing::TempDir;
using testing::values_of;
using testing::varied_lines;
using testing::write_file_checked;

constexpr size_t kBatch = 7;

// What the readers of an old run read before they stopped, and the positions
// they snapshot there.
template <class T>
struct OldRun {
  std::vector<T> values;
  std::vector<SplitPosition> positions;
  int splits_finished = 0;    // kSplitFinished results seen
  int stopped_mid_split = 0;  // readers whose last read returned records
};

// Old subtask 0 reads to the end of its first split and two reads further
// (into its next split, when it has one); subtask 1 stops after three reads,
// inside its first split; subtask 2 reads nothing. Returns the last status.
template <class T>
ReadStatus read_part(SourceReader<T>& reader, int subtask, OldRun<T>& run) {
  int reads_left = subtask == 1 ? 3 : 0;
  bool past_first_end = subtask != 0;
  ReadStatus last = ReadStatus::kNotYet;
  Batch<T> out;
  while (!past_first_end || reads_left > 0) {
    out.clear();
    ReadResult result = reader.read(out, kBatch, 0);
    --reads_left;
    last = result.status;
    for (T& value : values_of(out)) run.values.push_back(std::move(value));
    EXPECT_NE(last, ReadStatus::kNotYet);
    if (last == ReadStatus::kFinished || last == ReadStatus::kNotYet) break;
    if (last == ReadStatus::kSplitFinished) {
      ++run.splits_finished;
      if (!past_first_end) reads_left = 2;
      past_first_end = true;
    }
  }
  return last;
}

template <class T>
OldRun<T> run_old(const Source<T>& source, int parallelism) {
  OldRun<T> run;
  for (int subtask = 0; subtask < parallelism; ++subtask) {
    auto reader = source.create_reader(subtask, parallelism);
    reader->open(reader_context(subtask, parallelism));
    if (read_part(*reader, subtask, run) == ReadStatus::kRecords) ++run.stopped_mid_split;
    for (SplitPosition& position : reader->snapshot_positions()) {
      run.positions.push_back(std::move(position));
    }
    reader->close();
  }
  // The positions the new run gets must include what the brief calls for.
  EXPECT_GT(run.splits_finished, 0) << "no old reader finished a split";
  if (parallelism > 1) {
    EXPECT_GT(run.stopped_mid_split, 0) << "no old reader stopped mid-split";
  }
  return run;
}

// ---------------------------------------------------------------------------
// Restore and rescale: (old parallelism, new parallelism, splits option)

class SourceRescale : public ::testing::TestWithParam<std::tuple<int, int, int>> {};

TEST_P(SourceRescale, FileReadsEveryLineOnceWithItsNumber) {
  auto [old_parallelism, new_parallelism, splits] = GetParam();
  TempDir dir;
  std::string content = varied_lines(600);
  write_file_checked(dir.file("in.txt"), content);
  FileSourceOptions options{.path = dir.file("in.txt"), .splits = splits, .read_buffer_bytes = 64};

  OldRun<Line> old = run_old(FileSource(options, keep_line), old_parallelism);
  std::vector<Line> lines =
      read_all(FileSource(options, keep_line), new_parallelism, kBatch, old.positions);
  lines.insert(lines.end(), old.values.begin(), old.values.end());
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, expected_lines(content));
}

TEST_P(SourceRescale, GeneratorMakesEveryIndexOnce) {
  auto [old_parallelism, new_parallelism, splits] = GetParam();
  GeneratorOptions options{.count = 1000, .seed = 7, .splits = splits};

  OldRun<Generated> old = run_old(GeneratorSource(options, generate), old_parallelism);
  std::vector<Generated> all =
      read_all(GeneratorSource(options, generate), new_parallelism, kBatch, old.positions);
  all.insert(all.end(), old.values.begin(), old.values.end());
  std::sort(all.begin(), all.end(),
            [](const Generated& a, const Generated& b) { return a.index < b.index; });
  std::vector<Generated> expected;
  for (uint64_t index = 0; index < options.count; ++index) {
    SplitRandom rng(options.seed, index);
    expected.push_back(generate(index, rng));
  }
  EXPECT_EQ(all, expected);
}

INSTANTIATE_TEST_SUITE_P(Connectors, SourceRescale,
                         ::testing::Combine(::testing::Values(1, 2, 3), ::testing::Values(1, 2, 3),
                                            ::testing::Values(0, 7)));

// A restored reader keeps its checkpoint's split count: with one split per
// subtask by default, the new subtasks share the old run's splits.
TEST(SourceRestore, KeepsTheCheckpointsSplits) {
  GeneratorSource source(GeneratorOptions{.count = 100}, generate);
  OldRun<Generated> old = run_old(source, 2);
  std::vector<std::vector<int>> owned;
  for (int subtask = 0; subtask < 3; ++subtask) {
    auto reader = source.create_reader(subtask, 3);
    reader->open(reader_context(subtask, 3));
    reader->restore_positions(old.positions);
    owned.push_back(reader->splits());
  }
  EXPECT_EQ(owned, (std::vector<std::vector<int>>{{0}, {1}, {}}));
}

TEST(SourceRestore, UnboundedGeneratorGoesOnWithTheNextIndices) {
  GeneratorSource source(GeneratorOptions{.splits = 2}, generate);
  auto old = source.create_reader(0, 1);
  old->open(reader_context(0, 1));
  Batch<Generated> out;
  for (int i = 0; i < 3; ++i) {  // 0..8 even, 1..9 odd, 10..18 even
    out.clear();
    old->read(out, 5, 0);
  }
  std::vector<SplitPosition> positions = old->snapshot_positions();
  std::vector<std::vector<uint64_t>> next;
  for (int subtask = 0; subtask < 2; ++subtask) {
    auto reader = source.create_reader(subtask, 2);
    reader->open(reader_context(subtask, 2));
    reader->restore_positions(positions);
    Batch<Generated> batch;
    EXPECT_EQ(reader->read(batch, 3, 0).status, ReadStatus::kRecords);
    next.emplace_back();
    for (const Generated& g : values_of(batch)) next.back().push_back(g.index);
  }
  EXPECT_EQ(next, (std::vector<std::vector<uint64_t>>{{20, 22, 24}, {11, 13, 15}}));
}

// A snapshot taken after the reader was closed still holds where it stood.
TEST(SourceRestore, FilePositionSurvivesClose) {
  TempDir dir;
  std::string content = varied_lines(50);
  write_file_checked(dir.file("in.txt"), content);
  FileSource source(FileSourceOptions{.path = dir.file("in.txt")}, keep_line);
  auto old = source.create_reader(0, 1);
  old->open(reader_context(0, 1));
  Batch<Line> out;
  old->read(out, 10, 0);
  old->close();
  std::vector<Line> rest = read_all(source, 1, kBatch, old->snapshot_positions());
  ASSERT_FALSE(rest.empty());
  EXPECT_EQ(rest.front(), (Line{11, "L11" + std::string(77 % 40, 'x')}));
  EXPECT_EQ(rest.size() + 10, expected_lines(content).size());
}

// ---------------------------------------------------------------------------
// Line reader position

TEST(LineReaderRestore, PositionIsAfterTheLastLineReturned) {
  TempDir dir;
  std::string content = "one\ntwo\r\nthree\nfour";
  write_file_checked(dir.file("in.txt"), content);
  FileSplit split{0, 0, content.size(), 1};
  SplitLineReader reader(dir.file("in.txt"), 64);  // reads the whole file at once
  reader.start(split);
  std::string_view line;
  ASSERT_TRUE(reader.next(line));
  ASSERT_TRUE(reader.next(line));
  EXPECT_EQ(reader.position().offset, 9u);  // the buffer holds the rest
  EXPECT_EQ(reader.position().line, 3u);

  SplitLineReader resumed(dir.file("in.txt"), 4);
  resumed.resume(split, reader.position());
  std::vector<std::string> lines;
  while (resumed.next(line)) lines.emplace_back(line);
  EXPECT_EQ(lines, (std::vector<std::string>{"three", "four"}));
  EXPECT_EQ(resumed.line_number(), 4u);
  EXPECT_EQ(resumed.position().offset, content.size());
  EXPECT_EQ(resumed.position().line, 5u);
}

// ---------------------------------------------------------------------------
// Throttling after a restore

// The restored reader starts with one bucket, as any reader does, and then
// keeps to the rate: being behind does not earn it a burst.
TEST(SourceRestore, ThrottledFileReaderDoesNotBurst) {
  TempDir dir;
  std::string content;
  for (int i = 1; i <= 1000; ++i) content += std::to_string(i) + "\n";
  write_file_checked(dir.file("in.txt"), content);
  FileSource source(FileSourceOptions{.path = dir.file("in.txt"), .rate = 1000}, keep_line);
  auto old = source.create_reader(0, 1);
  old->open(reader_context(0, 1));
  Batch<Line> out;
  ASSERT_EQ(old->read(out, 1024, 0).status, ReadStatus::kRecords);
  ASSERT_EQ(out.size(), 100u);  // one bucket: 100 ms at 1000/s

  auto restored = source.create_reader(0, 1);
  restored->open(reader_context(0, 1));
  restored->restore_positions(old->snapshot_positions());
  const Timestamp later = 60'000;
  Batch<Line> batch;
  ASSERT_EQ(restored->read(batch, 1024, later).status, ReadStatus::kRecords);
  ASSERT_EQ(batch.size(), 100u);
  EXPECT_EQ(batch.front().value, (Line{101, "101"}));
  ReadResult waiting = restored->read(batch, 1024, later);
  EXPECT_EQ(waiting.status, ReadStatus::kNotYet);
  EXPECT_EQ(waiting.retry_at, later + 1);
  EXPECT_EQ(restored->read(batch, 1024, later + 10).status, ReadStatus::kRecords);
  EXPECT_EQ(batch.size(), 110u);
}

// ---------------------------------------------------------------------------
// Corrupt and mismatched positions

// The error message of restoring `reader` from `positions`, or "" if none.
template <class T, class Error = InputError>
std::string restore_error(SourceReader<T>& reader, const std::vector<SplitPosition>& positions) {
  try {
    reader.restore_positions(positions);
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

std::string file_position(int32_t count, uint64_t begin, uint64_t end, uint64_t offset,
                          uint64_t line, SplitState state = SplitState::kReading) {
  return encode_versioned(FileSplitPosition::kFormat,
                          FileSplitPosition{count, begin, end, offset, line, state});
}

TEST(CorruptPosition, FileSourceFailsWithTheSplitAndTheReason) {
  TempDir dir;
  std::string path = dir.file("in.txt");
  // Three splits: bytes 0..9 (line 1), 9..14 (line 4), 14..20 (line 5).
  write_file_checked(path, "a\nbb\nccc\ndddd\neeeee\n");
  const std::string valid = file_position(3, 9, 14, 9, 4);
  const std::string unknown_state = [&] {
    std::string bytes = valid;
    bytes.back() = 7;
    return bytes;
  }();
  struct Case {
    std::vector<SplitPosition> positions;
    std::string message;  // after "file source PATH: corrupt checkpoint: position of split "
  };
  std::vector<Case> cases = {
      {{{0, "\x07"}},
       "0: file split position: format version 7 is not readable here (this "
       "Sluice reads 1 to 1)"},
      {{{0, "\x01\x07"}}, "0: codec: truncated input (needed 4 bytes, 1 left)"},
      {{{1, valid + "!"}}, "1: file split position: trailing bytes"},
      {{{1, encode_versioned(GeneratorSplitPosition::kFormat, GeneratorSplitPosition{3, 1})}},
       "1: codec: truncated input (needed 8 bytes, 1 left)"},
      {{{1, file_position(0, 9, 14, 9, 4)}}, "1: split count 0 is not in 1..65536"},
      {{{3, valid}}, "3: a plan of 3 splits has no such split"},
      {{{-1, valid}}, "-1: a plan of 3 splits has no such split"},
      {{{1, unknown_state}}, "1: codec: enum value 7 out of range"},
      {{{1, valid}, {0, file_position(2, 0, 9, 0, 1)}},
       "0: it belongs to a plan of 2 splits, another position to one of 3"},
      {{{1, valid}, {1, valid}}, "1: the checkpoint holds two positions for it"},
      {{{1, file_position(3, 9, 14, 15, 5)}}, "1: byte 15 is outside the split's bytes 9..14"},
      {{{1, file_position(3, 9, 14, 9, 5)}},
       "1: line 5 cannot start at byte 9 of a split whose first line, 4, starts at byte 9"},
      {{{1, file_position(3, 9, 14, 9, 4, SplitState::kFinished)}},
       "1: it is finished but stands at byte 9, before the split's end at 14"},
      {{{1, file_position(3, 9, 15, 9, 4)}},
       "1: the split was bytes 9..15 but is bytes 9..14 now (the file changed since the "
       "checkpoint)"},
  };
  FileSource source(FileSourceOptions{.path = path}, keep_line);
  for (const Case& c : cases) {
    auto reader = source.create_reader(0, 1);
    reader->open(reader_context(0, 1));
    EXPECT_EQ(restore_error(*reader, c.positions),
              "file source " + path + ": corrupt checkpoint: position of split " + c.message);
  }
  // Well-formed positions: split 0 at line 3, split 1 finished, split 2 at its start.
  auto reader = source.create_reader(0, 1);
  reader->open(reader_context(0, 1));
  reader->restore_positions({{0, file_position(3, 0, 9, 5, 3)},
                             {1, file_position(3, 9, 14, 14, 5, SplitState::kFinished)},
                             {2, file_position(3, 14, 20, 14, 5)}});
  EXPECT_EQ(testing::drain(*reader, 10).values, (std::vector<Line>{{3, "ccc"}, {5, "eeeee"}}));
}

TEST(CorruptPosition, GeneratorFailsWithTheSplitAndTheReason) {
  GeneratorSource source(GeneratorOptions{.count = 100}, generate);
  auto restore = [&](std::vector<SplitPosition> positions) {
    auto reader = source.create_reader(0, 1);
    reader->open(reader_context(0, 1));
    return restore_error(*reader, positions);
  };
  const std::string prefix = "generator source: corrupt checkpoint: position of split ";
  EXPECT_EQ(restore({{0, std::string(3, '\xff')}}),
            prefix + "0: codec: truncated input (needed 1 bytes, 0 left)");  // a varint
  EXPECT_EQ(restore({{0, std::string("\x01\xff", 2)}}),
            prefix + "0: codec: truncated input (needed 4 bytes, 1 left)");
  EXPECT_EQ(restore({{1, encode_versioned(GeneratorSplitPosition::kFormat,
                                          GeneratorSplitPosition{2, 4})}}),
            prefix + "1: index 4 is not one of the split's");
  EXPECT_EQ(restore({{0, file_position(1, 0, 9, 0, 1)}}),
            prefix + "0: codec: enum value 9 out of range");
}

TEST(CorruptPosition, ExplicitSplitCountMustMatchTheCheckpoint) {
  GeneratorSource source(GeneratorOptions{.count = 100, .splits = 2}, generate);
  auto reader = source.create_reader(0, 1);
  reader->open(reader_context(0, 1));
  std::vector<SplitPosition> three_splits = {
      {0, encode_versioned(GeneratorSplitPosition::kFormat, GeneratorSplitPosition{3, 0})}};
  EXPECT_EQ((restore_error<Generated, UsageError>(*reader, three_splits)),
            "generator source: the checkpoint has 3 splits but the options ask for 2; a restored "
            "source keeps the split count of its checkpoint (set splits to 3 or 0)");
}

TEST(CorruptPosition, SplitCountOptionIsBounded) {
  EXPECT_THROW(FileSource(FileSourceOptions{.path = "x", .splits = kMaxSplits + 1}, keep_line),
               UsageError);
  EXPECT_THROW(GeneratorSource(GeneratorOptions{.splits = kMaxSplits + 1}, generate), UsageError);
  EXPECT_NO_THROW(GeneratorSource(GeneratorOptions{.splits = kMaxSplits}, generate));
}

// ---------------------------------------------------------------------------
// The runtime tests' VectorSource

TEST(VectorSourceRestore, RescalesAndRejectsCorruptPositions) {
  std::vector<int> values;
  for (int i = 0; i < 50; ++i) values.push_back(i);
  testing::VectorSource<int> source(values, 3);
  auto old = source.create_reader(0, 1);
  std::vector<int> all;
  for (int i = 0; i < 7; ++i) {  // split 0 (17 values) finished, split 1 begun
    Batch<int> out;
    old->read(out, 4, 0);
    for (int value : values_of(out)) all.push_back(value);
  }
  std::vector<int> rest = read_all(source, 2, kBatch, old->snapshot_positions());
  all.insert(all.end(), rest.begin(), rest.end());
  EXPECT_EQ(testing::sorted(all), values);

  auto reader = source.create_reader(0, 1);
  EXPECT_EQ(restore_error(*reader, {{1, "\x01"}}),
            "vector source: corrupt position of split 1: codec: truncated input (needed 8 "
            "bytes, 1 left)");
  EXPECT_EQ(restore_error(*reader, {{1, encode_to_string<uint64_t>(5)}}),
            "vector source: corrupt position of split 1: 5 is not one of its positions");
}

}  // namespace
}  // namespace sluice
