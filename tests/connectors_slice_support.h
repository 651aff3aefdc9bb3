// Helpers for the micro-batch slice tests of the file and generator sources
// (connectors_source_test.cc): what a slice should read, computed from the
// input text or the index arithmetic rather than from the readers' own code.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "connectors/file_split.h"
#include "connectors/generator_source.h"
#include "connectors/split_random.h"
#include "runtime/operator/source.h"
#include "tests/connectors_support.h"

namespace sluice::testing {

// The number of the line that starts at `offset`, a line start of `content`
// or the end of a file that ends with '\n'.
inline int64_t line_at(const std::string& content, uint64_t offset) {
  return static_cast<int64_t>(lines_of(content.substr(0, offset)).size()) + 1;
}

// What a file reader reads in a slice: its splits' lines numbered
// [start, end), split after split.
inline std::vector<Line> lines_of_slices(const std::vector<Line>& all,
                                         const std::vector<SplitSlice>& plan) {
  std::vector<Line> lines;
  for (const SplitSlice& slice : plan) {
    for (const Line& line : all) {
      auto number = static_cast<int64_t>(line.number);
      if (number >= slice.start && number < slice.end) lines.push_back(line);
    }
  }
  return lines;
}

template <class T>
std::map<int, FileSplitPosition> file_positions(const SourceReader<T>& reader) {
  std::map<int, FileSplitPosition> positions;
  for (const SplitPosition& p : reader.snapshot_positions()) {
    positions[p.split] =
        decode_versioned<FileSplitPosition>(FileSplitPosition::kFormat, p.position);
  }
  return positions;
}

// Checks that a slice made exactly the indices of its plan (split k's
// k, k + stride, ... in [start, end)), each split's in order, each record
// the generator's for its index.
inline void expect_generated_slices(const std::vector<Generated>& values,
                                    const std::vector<SplitSlice>& plan, uint64_t stride,
                                    uint64_t seed) {
  std::map<uint64_t, std::vector<uint64_t>> by_split;
  for (const Generated& g : values) {
    SplitRandom rng(seed, g.index);
    EXPECT_EQ(g.random, rng.next()) << "index " << g.index;
    by_split[g.index % stride].push_back(g.index);
  }
  size_t expected_count = 0;
  for (const SplitSlice& slice : plan) {
    std::vector<uint64_t> expected;
    for (int64_t i = slice.start; i < slice.end; i += static_cast<int64_t>(stride)) {
      expected.push_back(static_cast<uint64_t>(i));
    }
    EXPECT_EQ(by_split[static_cast<uint64_t>(slice.split)], expected) << "split " << slice.split;
    expected_count += expected.size();
  }
  EXPECT_EQ(values.size(), expected_count);
}

// The first index >= count of split `split` of `stride`.
inline int64_t first_past(int64_t split, int64_t stride, int64_t count) {
  int64_t index = split;
  while (index < count) index += stride;
  return index;
}

}  // namespace sluice::testing
