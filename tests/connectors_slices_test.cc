// Unit tests of the sources' micro-batch slices: the file source's and the
// generator's plans, capped slices read in sequence, and restores at another
// parallelism. Expected slices and lines come from the text and from the
// helpers of tests/connectors_slice_support.h.
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
#include "tests/connectors_slice_support.h"
#include "tests/connectors_support.h"
#include "tests/slice_support.h"

namespace sluice {
namespace {

using testing::expect_finished_slices;
using testing::expect_generated_slices;
using testing::expect_plan_shape;
using testing::expected_lines;
using testing::file_positions;
using testing::first_past;
using testing::generate;
using testing::Generated;
using testing::keep_line;
using testing::Line;
using testing::line_at;
using testing::lines_of_slices;
using testing::parse_number;
using testing::read_all;
using testing::read_slice;
using testing::reader_context;
using testing::SliceRead;
using testing::TempDir;
using testing::varied_lines;
using testing::write_file_checked;

// ---------------------------------------------------------------------------
// File source: micro-batch slices. Expected slices and lines come from the
// text (the split boundaries from plan_file_splits, checked above), with
// the helpers of tests/connectors_slice_support.h.

// Slices of at most 9 lines, one after another, until every split ended:
// each reads exactly its lines, reports a split's end in the slice that
// reaches it, and leaves the positions at the slice ends.
TEST(FileSlices, CappedSlicesInSequenceReadEveryLineOnceInOrder) {
  TempDir dir;
  const std::string path = dir.file("in.txt");
  const std::string content = varied_lines(500);
  write_file_checked(path, content);
  const std::vector<Line> all = expected_lines(content);
  std::vector<FileSplit> splits = plan_file_splits(path, 7);
  FileSource source(FileSourceOptions{.path = path, .splits = 7, .read_buffer_bytes = 64},
                    keep_line);
  std::vector<Line> read_lines;
  for (int subtask = 0; subtask < 3; ++subtask) {
    SCOPED_TRACE("subtask " + std::to_string(subtask));
    auto reader = source.create_reader(subtask, 3);
    reader->open(reader_context(subtask, 3));
    std::map<int, int64_t> next;  // where each split's next slice starts
    for (int id : reader->splits()) next[id] = line_at(content, splits[id].begin);
    std::set<int> finished;
    for (int batch = 0; finished.size() < next.size(); ++batch) {
      ASSERT_LT(batch, 500) << "the splits never ended";
      std::vector<SplitSlice> plan = reader->plan_slices(9);
      expect_plan_shape(plan, reader->splits());
      std::vector<int> finishing;
      for (const SplitSlice& slice : plan) {
        const int64_t end_line = line_at(content, splits[slice.split].end);
        EXPECT_EQ(slice.start, next[slice.split]);
        EXPECT_EQ(slice.available, end_line);
        EXPECT_EQ(slice.end, std::min(slice.start + 9, end_line));
        EXPECT_TRUE(slice.ended);
        if (slice.end == end_line && finished.insert(slice.split).second) {
          finishing.push_back(slice.split);
        }
        next[slice.split] = slice.end;
      }
      reader->start_slices(plan);
      SliceRead<Line> read = read_slice(*reader, 4);
      EXPECT_EQ(read.values, lines_of_slices(all, plan));
      EXPECT_EQ(read.finished_splits, finishing);
      EXPECT_EQ(read.finished, finished.size() == next.size());
      for (const auto& [split, position] : file_positions(*reader)) {
        EXPECT_EQ(static_cast<int64_t>(position.line), next[split]);
        EXPECT_EQ(position.state == SplitState::kFinished, finished.count(split) == 1);
      }
      read_lines.insert(read_lines.end(), read.values.begin(), read.values.end());
    }
    for (const SplitSlice& slice : reader->plan_slices(9)) {
      EXPECT_EQ(slice.available, line_at(content, splits[slice.split].end));
    }
    expect_finished_slices(*reader);
  }
  std::sort(read_lines.begin(), read_lines.end());
  EXPECT_EQ(read_lines, all);
}

TEST(FileSlices, ARestoredReaderPlansFromTheSliceEndsAtAnotherParallelism) {
  TempDir dir;
  const std::string path = dir.file("in.txt");
  const std::string content = varied_lines(400);
  write_file_checked(path, content);
  FileSource source(FileSourceOptions{.path = path, .splits = 5}, keep_line);
  std::vector<Line> before;
  std::vector<SplitPosition> checkpoint;
  std::map<int, int64_t> ends;
  for (int subtask = 0; subtask < 2; ++subtask) {
    auto reader = source.create_reader(subtask, 2);
    reader->open(reader_context(subtask, 2));
    std::vector<SplitSlice> plan = reader->plan_slices(13);
    for (const SplitSlice& slice : plan) ends[slice.split] = slice.end;
    reader->start_slices(plan);
    SliceRead<Line> read = read_slice(*reader, 5);
    EXPECT_FALSE(read.finished);
    before.insert(before.end(), read.values.begin(), read.values.end());
    std::vector<SplitPosition> positions = reader->snapshot_positions();
    checkpoint.insert(checkpoint.end(), positions.begin(), positions.end());
    reader->close();
  }

  std::vector<Line> rest;
  for (int subtask = 0; subtask < 3; ++subtask) {
    auto reader = source.create_reader(subtask, 3);
    reader->open(reader_context(subtask, 3));
    reader->restore_positions(checkpoint);
    std::vector<SplitSlice> plan = reader->plan_slices(0);
    expect_plan_shape(plan, reader->splits());
    for (const SplitSlice& slice : plan) {
      EXPECT_EQ(slice.start, ends.at(slice.split));
      EXPECT_EQ(slice.end, slice.available);
    }
    reader->start_slices(plan);
    SliceRead<Line> read = read_slice(*reader, 6);
    EXPECT_TRUE(read.finished);
    rest.insert(rest.end(), read.values.begin(), read.values.end());
  }
  std::vector<Line> all = before;
  all.insert(all.end(), rest.begin(), rest.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, expected_lines(content));

  // Reading on without slices from the same checkpoint gives the same rest.
  std::vector<Line> continuous = read_all(source, 3, 7, checkpoint);
  std::sort(rest.begin(), rest.end());
  std::sort(continuous.begin(), continuous.end());
  EXPECT_EQ(continuous, rest);
}

TEST(FileSlices, TheCapCountsLinesAndASliceOfDroppedLinesEndsWithoutRecords) {
  TempDir dir;
  write_file_checked(dir.file("in.txt"), "\n1\n\n2\n3\n");  // lines 1..5; the end is line 6
  FileSource source(FileSourceOptions{.path = dir.file("in.txt")}, parse_number);
  auto reader = source.create_reader(0, 1);
  reader->open(reader_context(0, 1));
  struct Step {
    uint64_t cap;
    SplitSlice slice;
    std::vector<int> values;
  };
  for (const Step& step : {Step{2, {0, 1, 3, 6, true}, {1}}, Step{1, {0, 3, 4, 6, true}, {}},
                           Step{1, {0, 4, 5, 6, true}, {2}}, Step{0, {0, 5, 6, 6, true}, {3}}}) {
    std::vector<SplitSlice> plan = reader->plan_slices(step.cap);
    EXPECT_EQ(plan, std::vector<SplitSlice>{step.slice});
    reader->start_slices(plan);
    SliceRead<int> read = read_slice(*reader, 10);
    EXPECT_EQ(read.values, step.values);
    bool last = step.slice.end == 6;
    EXPECT_EQ(read.finished, last);
    EXPECT_EQ(read.finished_splits, last ? std::vector<int>{0} : std::vector<int>{});
  }
}

TEST(FileSlices, OwnedSplitsWithoutASliceReadNothing) {
  TempDir dir;
  write_file_checked(dir.file("in.txt"), "1\n2\n3\n4\n5\n6\n");  // split 1 starts at line 4
  FileSource source(FileSourceOptions{.path = dir.file("in.txt"), .splits = 2}, parse_number);
  auto reader = source.create_reader(0, 1);
  reader->open(reader_context(0, 1));
  std::vector<SplitSlice> plan = reader->plan_slices(0);
  EXPECT_EQ(plan, (std::vector<SplitSlice>{{0, 1, 4, 4, true}, {1, 4, 7, 7, true}}));
  reader->start_slices({plan[1]});
  SliceRead<int> second = read_slice(*reader, 10);
  EXPECT_EQ(second.values, (std::vector<int>{4, 5, 6}));
  EXPECT_EQ(second.finished_splits, std::vector<int>{1});
  EXPECT_FALSE(second.finished);  // split 0 is not finished: kSliceEnd

  plan = reader->plan_slices(0);
  EXPECT_EQ(plan, (std::vector<SplitSlice>{{0, 1, 4, 4, true}, {1, 7, 7, 7, true}}));
  reader->start_slices(plan);
  SliceRead<int> first = read_slice(*reader, 10);
  EXPECT_EQ(first.values, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(first.finished_splits, std::vector<int>{0});
  EXPECT_TRUE(first.finished);
}

// A split read to its last line without slices is not finished yet; a
// restored reader finishes it in its first slice, and a reader restored from
// a finished split reports that end once.
TEST(FileSlices, ARestoredReaderReportsEachSplitEndOnce) {
  TempDir dir;
  write_file_checked(dir.file("in.txt"), "1\n2\n");
  FileSource source(FileSourceOptions{.path = dir.file("in.txt")}, parse_number);
  auto continuous = source.create_reader(0, 1);
  continuous->open(reader_context(0, 1));
  Batch<int> out;
  ASSERT_EQ(continuous->read(out, 2, 0).status, ReadStatus::kRecords);
  std::vector<SplitPosition> positions = continuous->snapshot_positions();
  EXPECT_EQ(file_positions(*continuous)[0].state, SplitState::kReading);

  for (int restore = 0; restore < 2; ++restore) {
    auto reader = source.create_reader(0, 1);
    reader->open(reader_context(0, 1));
    reader->restore_positions(positions);
    std::vector<SplitSlice> plan = reader->plan_slices(5);
    EXPECT_EQ(plan, (std::vector<SplitSlice>{{0, 3, 3, 3, true}}));
    reader->start_slices(plan);
    SliceRead<int> read = read_slice(*reader, 10);
    EXPECT_TRUE(read.values.empty());
    EXPECT_EQ(read.finished_splits, std::vector<int>{0});
    EXPECT_TRUE(read.finished);
    expect_finished_slices(*reader);
    positions = reader->snapshot_positions();
    EXPECT_EQ(file_positions(*reader)[0].state, SplitState::kFinished);
  }
}

// ---------------------------------------------------------------------------
// Generator source: micro-batch slices

TEST(GeneratorSlices, BoundedPlanEndsAtEachSplitsFirstIndexPastTheCount) {
  GeneratorSource source(GeneratorOptions{.count = 100, .seed = 3, .splits = 3}, generate);
  auto reader = source.create_reader(0, 2);  // splits 0 and 2
  reader->open(reader_context(0, 2));
  // Split 0 makes 0, 3, ..., 99; split 2 makes 2, 5, ..., 98.
  std::vector<SplitSlice> plan = reader->plan_slices(0);
  EXPECT_EQ(plan, (std::vector<SplitSlice>{{0, 0, 102, 102, true}, {2, 2, 101, 101, true}}));
  reader->start_slices(plan);
  SliceRead<Generated> read = read_slice(*reader, 8);
  expect_generated_slices(read.values, plan, 3, 3);
  std::sort(read.finished_splits.begin(), read.finished_splits.end());
  EXPECT_EQ(read.finished_splits, (std::vector<int>{0, 2}));
  EXPECT_TRUE(read.finished);
  // Finished splits stand at their ends.
  EXPECT_EQ(reader->plan_slices(5),
            (std::vector<SplitSlice>{{0, 102, 102, 102, true}, {2, 101, 101, 101, true}}));
}

TEST(GeneratorSlices, CappedSlicesCoverEveryIndexOnceAcrossARestoreAtAnotherParallelism) {
  const GeneratorOptions options{.count = 1000, .seed = 5, .splits = 4};
  GeneratorSource source(options, generate);
  std::vector<Generated> seen;
  std::vector<SplitPosition> checkpoint;
  std::map<int, int64_t> next;
  for (int subtask = 0; subtask < 3; ++subtask) {
    auto reader = source.create_reader(subtask, 3);
    reader->open(reader_context(subtask, 3));
    for (int id : reader->splits()) next[id] = id;
    for (int batch = 0; batch < 2; ++batch) {
      std::vector<SplitSlice> plan = reader->plan_slices(11);
      expect_plan_shape(plan, reader->splits());
      for (const SplitSlice& slice : plan) {
        const int64_t end = first_past(slice.split, 4, 1000);
        EXPECT_EQ(slice, (SplitSlice{slice.split, next[slice.split],
                                     std::min(next[slice.split] + 44, end), end, true}));
        next[slice.split] = slice.end;
      }
      reader->start_slices(plan);
      SliceRead<Generated> read = read_slice(*reader, 5);
      EXPECT_FALSE(read.finished);
      expect_generated_slices(read.values, plan, 4, 5);
      seen.insert(seen.end(), read.values.begin(), read.values.end());
    }
    for (const SplitPosition& p : reader->snapshot_positions()) {
      auto position =
          decode_versioned<GeneratorSplitPosition>(GeneratorSplitPosition::kFormat, p.position);
      EXPECT_EQ(static_cast<int64_t>(position.next), next[p.split]);
      checkpoint.push_back(p);
    }
  }
  for (int subtask = 0; subtask < 2; ++subtask) {
    auto reader = source.create_reader(subtask, 2);
    reader->open(reader_context(subtask, 2));
    reader->restore_positions(checkpoint);
    std::vector<SplitSlice> plan = reader->plan_slices(0);
    expect_plan_shape(plan, reader->splits());
    for (const SplitSlice& slice : plan) {
      EXPECT_EQ(slice.start, next.at(slice.split));
      EXPECT_EQ(slice.end, first_past(slice.split, 4, 1000));
    }
    reader->start_slices(plan);
    SliceRead<Generated> read = read_slice(*reader, 64);
    EXPECT_TRUE(read.finished);
    expect_generated_slices(read.values, plan, 4, 5);
    seen.insert(seen.end(), read.values.begin(), read.values.end());
  }
  std::sort(seen.begin(), seen.end(),
            [](const Generated& a, const Generated& b) { return a.index < b.index; });
  ASSERT_EQ(seen.size(), 1000u);
  for (uint64_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i].index, i);
}

// 400 records/s over 4 splits: 100/s per split, 4 indices apart.
TEST(GeneratorSlices, RateLimitedAvailabilityFollowsTheReadersClock) {
  ManualClock clock(5'000);
  GeneratorSource source(GeneratorOptions{.rate = 400, .splits = 4}, generate);
  auto reader = source.create_reader(1, 2);  // splits 1 and 3
  SourceReaderContext context = reader_context(1, 2);
  context.clock = &clock;
  reader->open(context);
  EXPECT_EQ(reader->plan_slices(0),
            (std::vector<SplitSlice>{{1, 1, 1, 1, false}, {3, 3, 3, 3, false}}));
  reader->start_slices(reader->plan_slices(0));
  EXPECT_TRUE(read_slice(*reader, 100, clock.now_ms()).values.empty());

  clock.advance(250);  // 25 per split
  EXPECT_EQ(reader->plan_slices(0),
            (std::vector<SplitSlice>{{1, 1, 101, 101, false}, {3, 3, 103, 103, false}}));
  std::vector<SplitSlice> capped = reader->plan_slices(10);
  EXPECT_EQ(capped, (std::vector<SplitSlice>{{1, 1, 41, 101, false}, {3, 3, 43, 103, false}}));
  reader->start_slices(capped);
  // The plan paced the records: the slice comes at once, with no throttle.
  SliceRead<Generated> read = read_slice(*reader, 1000, clock.now_ms());
  expect_generated_slices(read.values, capped, 4, 0);
  EXPECT_EQ(read.values.size(), 20u);

  clock.advance(9);  // 0.259 s: still 25
  EXPECT_EQ(reader->plan_slices(0),
            (std::vector<SplitSlice>{{1, 41, 101, 101, false}, {3, 43, 103, 103, false}}));
  clock.advance(1);  // 0.26 s: 26
  EXPECT_EQ(reader->plan_slices(0),
            (std::vector<SplitSlice>{{1, 41, 105, 105, false}, {3, 43, 107, 107, false}}));

  // Bounded too: the slice that reaches the count ends the split.
  GeneratorSource bounded(GeneratorOptions{.count = 20, .rate = 400, .splits = 4}, generate);
  auto short_reader = bounded.create_reader(1, 2);
  short_reader->open(context);  // at 5'260
  clock.advance(20);            // 2 per split
  EXPECT_EQ(short_reader->plan_slices(0)[0], (SplitSlice{1, 1, 9, 9, false}));
  clock.advance(230);  // 25 per split, past split 1's 1, 5, 9, 13, 17
  EXPECT_EQ(short_reader->plan_slices(0)[0], (SplitSlice{1, 1, 21, 21, true}));

  // A restored reader counts from its restored positions and its own open.
  std::vector<SplitPosition> positions = reader->snapshot_positions();
  clock.set(60'000);
  auto restored = source.create_reader(0, 1);
  restored->open(context);
  restored->restore_positions(positions);  // splits 1 and 3 at 41 and 43, 0 and 2 at the start
  clock.advance(100);                      // 10 per split
  EXPECT_EQ(restored->plan_slices(0), (std::vector<SplitSlice>{{0, 0, 40, 40, false},
                                                               {1, 41, 81, 81, false},
                                                               {2, 2, 42, 42, false},
                                                               {3, 43, 83, 83, false}}));
}

TEST(GeneratorSlices, UnboundedWithoutARateHasEverythingAvailable) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  GeneratorSource source(GeneratorOptions{.splits = 2}, generate);
  auto reader = source.create_reader(0, 1);
  reader->open(reader_context(0, 1));
  EXPECT_EQ(reader->plan_slices(0), (std::vector<SplitSlice>{{0, 0, 2'000'000, kMax, false},
                                                             {1, 1, 2'000'001, kMax, false}}));
  std::vector<SplitSlice> plan = reader->plan_slices(3);
  EXPECT_EQ(plan, (std::vector<SplitSlice>{{0, 0, 6, kMax, false}, {1, 1, 7, kMax, false}}));
  reader->start_slices(plan);
  SliceRead<Generated> read = read_slice(*reader, 2);
  expect_generated_slices(read.values, plan, 2, 0);
  EXPECT_FALSE(read.finished);

  // Without a cap, a slice holds kDefaultUnlimitedSliceRecords records.
  GeneratorSource one(GeneratorOptions{.splits = 1}, generate);
  auto single = one.create_reader(0, 1);
  single->open(reader_context(0, 1));
  single->start_slices(single->plan_slices(0));
  SliceRead<Generated> whole = read_slice(*single, kMaxBatchRecords);
  ASSERT_EQ(whole.values.size(), kDefaultUnlimitedSliceRecords);
  EXPECT_EQ(whole.values.back().index, kDefaultUnlimitedSliceRecords - 1);
}

TEST(GeneratorSlices, PlansSaturateInsteadOfOverflowing) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  GeneratorSource source(GeneratorOptions{.splits = 1}, generate);
  auto reader = source.create_reader(0, 1);
  reader->open(reader_context(0, 1));
  GeneratorSplitPosition near_the_end{1, static_cast<uint64_t>(kMax) - 3, SplitState::kReading};
  reader->restore_positions({{0, encode_versioned(GeneratorSplitPosition::kFormat, near_the_end)}});
  EXPECT_EQ(reader->plan_slices(0), (std::vector<SplitSlice>{{0, kMax - 3, kMax, kMax, false}}));
  std::vector<SplitSlice> plan = reader->plan_slices(2);
  EXPECT_EQ(plan, (std::vector<SplitSlice>{{0, kMax - 3, kMax - 1, kMax, false}}));
  reader->start_slices(plan);
  SliceRead<Generated> read = read_slice(*reader, 10);
  ASSERT_EQ(read.values.size(), 2u);
  EXPECT_EQ(read.values[1].index, static_cast<uint64_t>(kMax) - 2);

  // A rate and a time whose product does not fit.
  ManualClock clock(0);
  GeneratorSource fast(GeneratorOptions{.rate = 1e18, .splits = 2}, generate);
  auto rated = fast.create_reader(0, 1);
  SourceReaderContext context = reader_context(0, 1);
  context.clock = &clock;
  rated->open(context);
  clock.advance(1'000'000'000'000);
  EXPECT_EQ(rated->plan_slices(0),
            (std::vector<SplitSlice>{{0, 0, kMax, kMax, false}, {1, 1, kMax, kMax, false}}));
  EXPECT_EQ(rated->plan_slices(3)[1], (SplitSlice{1, 1, 7, kMax, false}));
  // A count near the top of uint64: its end does not fit a slice position.
  GeneratorSource huge(GeneratorOptions{.count = std::numeric_limits<uint64_t>::max(), .splits = 3},
                       generate);
  auto big = huge.create_reader(0, 1);
  big->open(reader_context(0, 1));
  EXPECT_EQ(big->plan_slices(0)[2], (SplitSlice{2, 2, kMax, kMax, false}));
}

}  // namespace
}  // namespace sluice
