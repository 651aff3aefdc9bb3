// Test support for micro-batch slices (SourceReader::plan_slices and
// start_slices, runtime/operator/source.h): reading one started slice to its end
// with the status protocol checked, and the checks every plan must pass.
// Used by the connectors and Kafka source tests, one test thread at a time.
#pragma once

#include <map>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/operator/record.h"
#include "runtime/operator/source.h"

namespace sluice::testing {

// What one slice produced.
template <class T>
struct SliceRead {
  std::vector<T> values;
  std::vector<int> record_splits;    // the split of every kRecords batch
  std::vector<int> finished_splits;  // kSplitFinished, in order
  bool ended = false;                // kSliceEnd or kFinished came
  bool finished = false;             // ... and it was kFinished
};

// Takes the result of one read into `read`, checking the protocol: records
// only with kRecords, at most `max_records` of them.
template <class T>
void take_read(const ReadResult& result, Batch<T>& out, size_t max_records, SliceRead<T>& read) {
  switch (result.status) {
    case ReadStatus::kRecords:
      EXPECT_FALSE(out.empty());
      EXPECT_LE(out.size(), max_records);
      read.record_splits.push_back(result.split);
      for (Record<T>& record : out) read.values.push_back(std::move(record.value));
      return;
    case ReadStatus::kSplitFinished:
      EXPECT_TRUE(out.empty());
      read.finished_splits.push_back(result.split);
      return;
    case ReadStatus::kNotYet:
      EXPECT_TRUE(out.empty());
      return;
    case ReadStatus::kSliceEnd:
    case ReadStatus::kFinished:
      EXPECT_TRUE(out.empty());
      read.ended = true;
      read.finished = result.status == ReadStatus::kFinished;
      return;
  }
}

// Reads a started slice until kSliceEnd or kFinished with `now` for every
// read, and checks that the end repeats. kNotYet fails: the readers read
// here have nothing to wait for.
template <class T>
SliceRead<T> read_slice(SourceReader<T>& reader, size_t max_records, Timestamp now = 0) {
  SliceRead<T> read;
  Batch<T> out;
  for (int call = 0; call < 1'000'000 && !read.ended; ++call) {
    out.clear();
    ReadResult result = reader.read(out, max_records, now);
    if (result.status == ReadStatus::kNotYet) {
      ADD_FAILURE() << "kNotYet while reading a slice";
      return read;
    }
    take_read(result, out, max_records, read);
  }
  if (!read.ended) {
    ADD_FAILURE() << "the slice never ended";
    return read;
  }
  out.clear();
  EXPECT_EQ(reader.read(out, max_records, now).status,
            read.finished ? ReadStatus::kFinished : ReadStatus::kSliceEnd);
  EXPECT_TRUE(out.empty());
  return read;
}

// What every plan must hold: one slice per owned split, in splits() order,
// with start <= end <= available.
inline void expect_plan_shape(const std::vector<SplitSlice>& plan, const std::vector<int>& owned) {
  ASSERT_EQ(plan.size(), owned.size());
  for (size_t i = 0; i < plan.size(); ++i) {
    EXPECT_EQ(plan[i].split, owned[i]);
    EXPECT_LE(plan[i].start, plan[i].end) << "split " << plan[i].split;
    EXPECT_LE(plan[i].end, plan[i].available) << "split " << plan[i].split;
  }
}

// Once every owned split of `reader` finished, each stands at its end in a
// plan, and a slice is over at once.
template <class T>
void expect_finished_slices(SourceReader<T>& reader) {
  std::vector<SplitSlice> plan = reader.plan_slices(9);
  expect_plan_shape(plan, reader.splits());
  for (const SplitSlice& slice : plan) {
    EXPECT_EQ(slice,
              (SplitSlice{slice.split, slice.available, slice.available, slice.available, true}));
  }
  reader.start_slices(plan);
  SliceRead<T> after = read_slice(reader, 4);
  EXPECT_TRUE(after.finished);
  EXPECT_TRUE(after.values.empty());
  EXPECT_TRUE(after.finished_splits.empty());
}

inline std::map<int, SplitSlice> slices_by_split(const std::vector<SplitSlice>& plan) {
  std::map<int, SplitSlice> slices;
  for (const SplitSlice& slice : plan) slices[slice.split] = slice;
  return slices;
}

}  // namespace sluice::testing
