// Tests of the Kafka source's micro-batch slices against an in-process
// DevKafkaBroker (librdkafka's mock cluster): plans from the partitions'
// watermarks, slices that end exactly at their planned offsets, restores at
// another parallelism, retention gaps and transaction markers.
//
// What the mock cannot prove, for all of them: it is not Kafka (see
// kafka_source_test.cc). Each test says what it leaves unproven.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include "connectors/collect_sink.h"
#include "connectors/kafka/dev_broker.h"
#include "connectors/kafka/kafka_source.h"
#include "runtime/api/topology.h"
#include "runtime/checkpoint/restore.h"
#include "runtime/core/clock.h"
#include "runtime/executor/local_executor.h"
#include "runtime/metrics/metrics.h"
#include "runtime/task/source_operator.h"
#include "tests/kafka_source_support.h"
#include "tests/process_runner.h"
#include "tests/slice_support.h"

namespace sluice {
namespace {

using kafka::BrokerId;
using kafka::DevKafkaBroker;
using kafka::KafkaSourceOptions;
using kafka::StopAt;
using testing::SliceRead;
using testing::kafka_support::expect_slice_offsets;
using testing::kafka_support::Msg;
using testing::kafka_support::next_offsets;
using testing::kafka_support::open_reader;
using testing::kafka_support::options_for;
using testing::kafka_support::produce;
using testing::kafka_support::produce_transaction;
using testing::kafka_support::Producer;
using testing::kafka_support::read_kafka_slice;
using testing::kafka_support::sorted;

// ---------------------------------------------------------------------------
// (h) Micro-batch slices: plans from the partitions' watermarks (ListOffsets
// for "earliest" and "latest", which the mock serves), slices that end
// exactly at their planned offsets, positions at the slice ends.
// The mock cannot prove: watermarks that move under a real leader change,
// the last stable offset of read_committed (it has no open transactions),
// and gaps of transaction markers (it writes none; see below).

TEST(KafkaSlices, ASliceReadsExactlyItsOffsetsAndLeavesLaterRecordsForTheNext) {
  DevKafkaBroker broker(1);
  broker.create_topic("events", 3);
  std::vector<Msg> input = produce(broker.bootstraps(), "events", 3, 90);  // 30 per partition
  KafkaSourceOptions options = options_for(broker, {"events"});
  options.stop = StopAt::kNever;
  auto reader = open_reader(options, 0, 1);
  std::vector<SplitSlice> plan = reader->plan_slices(0);
  EXPECT_EQ(plan, (std::vector<SplitSlice>{
                      {0, 0, 30, 30, false}, {1, 0, 30, 30, false}, {2, 0, 30, 30, false}}));
  reader->start_slices(plan);
  SliceRead<Msg> read = read_kafka_slice(*reader);
  EXPECT_FALSE(read.finished);
  EXPECT_TRUE(read.finished_splits.empty());
  expect_slice_offsets(read.values, plan);
  EXPECT_EQ(sorted(read.values), sorted(input));
  EXPECT_EQ(next_offsets(*reader), (std::map<int32_t, int64_t>{{0, 30}, {1, 30}, {2, 30}}));

  // 10 more per partition; a slice of 4 stops at a record that is there
  // (offset 34), and the next slice gets it and the rest.
  std::vector<Msg> more = produce(broker.bootstraps(), "events", 3, 30, 90);
  std::vector<Msg> later;
  for (uint64_t cap : {4, 0}) {
    plan = reader->plan_slices(cap);
    for (const SplitSlice& slice : plan) {
      EXPECT_EQ(slice,
                (SplitSlice{slice.split, cap == 4 ? 30 : 34, cap == 4 ? 34 : 40, 40, false}));
    }
    reader->start_slices(plan);
    read = read_kafka_slice(*reader);
    EXPECT_FALSE(read.finished);
    expect_slice_offsets(read.values, plan);
    later.insert(later.end(), read.values.begin(), read.values.end());
    int64_t end = cap == 4 ? 34 : 40;
    EXPECT_EQ(next_offsets(*reader), (std::map<int32_t, int64_t>{{0, end}, {1, end}, {2, end}}));
  }
  EXPECT_EQ(sorted(later), sorted(more));

  // Nothing new: an empty slice ends at once.
  plan = reader->plan_slices(0);
  EXPECT_EQ(plan[0], (SplitSlice{0, 40, 40, 40, false}));
  reader->start_slices(plan);
  EXPECT_TRUE(read_kafka_slice(*reader).values.empty());
}

TEST(KafkaSlices, BoundedCappedSlicesAndARestoreAtAnotherParallelismReadEveryRecordOnce) {
  DevKafkaBroker broker(1);
  broker.create_topic("events", 4);
  std::vector<Msg> input = produce(broker.bootstraps(), "events", 4, 200);  // 50 per partition
  KafkaSourceOptions options = options_for(broker, {"events"});             // bounded: stops at 50

  std::vector<Msg> seen;
  std::vector<SplitPosition> checkpoint;
  std::map<int, int64_t> ends;
  for (int subtask = 0; subtask < 2; ++subtask) {
    auto reader = open_reader(options, subtask, 2);
    for (int split : reader->splits()) ends[split] = 0;
    for (int batch = 0; batch < 2; ++batch) {
      std::vector<SplitSlice> plan = reader->plan_slices(7);
      testing::expect_plan_shape(plan, reader->splits());
      for (const SplitSlice& slice : plan) {
        EXPECT_EQ(slice,
                  (SplitSlice{slice.split, ends[slice.split], ends[slice.split] + 7, 50, true}));
        ends[slice.split] = slice.end;
      }
      reader->start_slices(plan);
      SliceRead<Msg> read = read_kafka_slice(*reader);
      EXPECT_FALSE(read.finished);
      expect_slice_offsets(read.values, plan);
      seen.insert(seen.end(), read.values.begin(), read.values.end());
    }
    std::vector<SplitPosition> positions = reader->snapshot_positions();
    checkpoint.insert(checkpoint.end(), positions.begin(), positions.end());
    reader->close();
  }
  ASSERT_EQ(ends.size(), 4u);

  for (int subtask = 0; subtask < 3; ++subtask) {
    auto reader = open_reader(options, subtask, 3, nullptr, &checkpoint);
    std::vector<SplitSlice> plan = reader->plan_slices(0);
    testing::expect_plan_shape(plan, reader->splits());
    for (const SplitSlice& slice : plan) {
      EXPECT_EQ(slice, (SplitSlice{slice.split, ends.at(slice.split), 50, 50, true}));
    }
    reader->start_slices(plan);
    SliceRead<Msg> read = read_kafka_slice(*reader);
    EXPECT_TRUE(read.finished);
    std::vector<int> owned = reader->splits();
    std::sort(read.finished_splits.begin(), read.finished_splits.end());
    EXPECT_EQ(read.finished_splits, owned);
    expect_slice_offsets(read.values, plan);
    seen.insert(seen.end(), read.values.begin(), read.values.end());
    testing::expect_finished_slices(*reader);
  }
  EXPECT_EQ(sorted(seen), sorted(input)) << "lost or duplicated records";
}

// A gap the mock can make: its retention drops the oldest records past
// ~5 MiB per partition. A position restored below them is data lost before
// it was read: the slice fails by default, and with kafka.offset-reset=
// earliest the reader moves to the oldest record kept, counting the rest.
TEST(KafkaSlices, ASliceOfOffsetsThatRetentionDeletedFailsOrSkips) {
  DevKafkaBroker broker(1);
  broker.create_topic("big", 1);
  Producer producer(broker.bootstraps());
  for (int i = 0; i < 64; ++i) producer.send("big", 0, std::string(100 * 1024, 'a' + i % 26));
  producer.flush();
  KafkaSourceOptions options = options_for(broker, {"big"});
  options.stop = StopAt::kNever;
  const SplitSlice fresh = open_reader(options, 0, 1)->plan_slices(0).at(0);
  const int64_t low = fresh.start;  // earliest: the first record retention kept
  ASSERT_GT(low, 1) << "the mock kept every record: no gap";
  ASSERT_EQ(fresh.available, 64);

  kafka::KafkaPartitionPosition at_zero{"big", 0, 0, -1};
  std::vector<SplitPosition> checkpoint = {
      {0, encode_versioned(kafka::KafkaPartitionPosition::kFormat, at_zero)}};
  auto failing = open_reader(options, 0, 1, nullptr, &checkpoint);
  std::vector<SplitSlice> plan = failing->plan_slices(1);
  EXPECT_EQ(plan, (std::vector<SplitSlice>{{0, 0, 1, 64, false}}));
  failing->start_slices(plan);
  EXPECT_THROW(read_kafka_slice(*failing), InputError);

  options.offset_reset = kafka::OffsetReset::kEarliest;
  JobMetrics metrics;
  auto reader = open_reader(options, 0, 1, &metrics, &checkpoint);
  plan = reader->plan_slices(1);
  reader->start_slices(plan);
  SliceRead<Msg> read = read_kafka_slice(*reader);
  EXPECT_TRUE(read.values.empty()) << "offset " << read.values.front().offset;
  EXPECT_EQ(next_offsets(*reader)[0], low);
  EXPECT_EQ(metrics.skipped_records.value(), static_cast<uint64_t>(low));
  plan = reader->plan_slices(0);
  EXPECT_EQ(plan, (std::vector<SplitSlice>{{0, low, 64, 64, false}}));
  reader->start_slices(plan);
  read = read_kafka_slice(*reader);
  EXPECT_EQ(read.values.size(), static_cast<size_t>(64 - low));
  EXPECT_EQ(next_offsets(*reader)[0], 64);
}

// Offsets 0-2 are records and 3 a commit marker; then 4-5 and 6. A slice
// whose last offsets are markers still ends, at its end exactly.
// The mock of librdkafka 2.0 writes no commit markers (the high watermark
// stays at 3): there the test stops after the first slice, skipped.
TEST(KafkaSlices, SlicesEndAcrossTransactionMarkers) {
  DevKafkaBroker broker(1);
  broker.create_topic("txn", 1);
  produce_transaction(broker.bootstraps(), "txn", {"a", "b", "c"});
  KafkaSourceOptions options = options_for(broker, {"txn"});
  options.stop = StopAt::kNever;
  auto reader = open_reader(options, 0, 1);
  std::vector<SplitSlice> plan = reader->plan_slices(3);
  if (plan == std::vector<SplitSlice>{{0, 0, 3, 3, false}}) {
    reader->start_slices(plan);
    EXPECT_EQ(read_kafka_slice(*reader).values.size(), 3u);
    GTEST_SKIP() << "this broker writes no transaction markers: no gap to read across";
  }
  ASSERT_EQ(plan, (std::vector<SplitSlice>{{0, 0, 3, 4, false}}));
  reader->start_slices(plan);
  SliceRead<Msg> read = read_kafka_slice(*reader);
  EXPECT_EQ(read.values.size(), 3u);
  EXPECT_EQ(next_offsets(*reader)[0], 3);

  // Only the marker is left below the end: the slice still ends, at 4.
  plan = reader->plan_slices(0);
  EXPECT_EQ(plan, (std::vector<SplitSlice>{{0, 3, 4, 4, false}}));
  reader->start_slices(plan);
  read = read_kafka_slice(*reader);
  EXPECT_TRUE(read.values.empty());
  EXPECT_EQ(next_offsets(*reader)[0], 4);

  produce_transaction(broker.bootstraps(), "txn", {"d", "e"});
  plan = reader->plan_slices(0);
  EXPECT_EQ(plan, (std::vector<SplitSlice>{{0, 4, 7, 7, false}}));
  reader->start_slices(plan);
  read = read_kafka_slice(*reader);
  ASSERT_EQ(read.values.size(), 2u);
  EXPECT_EQ(read.values[0].offset, 4);
  EXPECT_EQ(read.values[1].offset, 5);
  EXPECT_EQ(next_offsets(*reader)[0], 7);

  // Bounded at 7: one slice reads the five records and ends the partition.
  options.stop = StopAt::kLatest;
  auto bounded = open_reader(options, 0, 1);
  plan = bounded->plan_slices(0);
  EXPECT_EQ(plan, (std::vector<SplitSlice>{{0, 0, 7, 7, true}}));
  bounded->start_slices(plan);
  read = read_kafka_slice(*bounded);
  EXPECT_EQ(read.values.size(), 5u);
  EXPECT_EQ(read.finished_splits, std::vector<int>{0});
  EXPECT_TRUE(read.finished);
}

// Symbolic positions (a discovered partition never read, a checkpoint's
// "latest" or "the group's offset") become offsets when a plan reports them.
TEST(KafkaSlices, PlansResolveSymbolicPositions) {
  DevKafkaBroker broker(1);
  broker.create_topic("events", 3);
  std::vector<Msg> input = produce(broker.bootstraps(), "events", 3, 30);  // 10 per partition
  KafkaSourceOptions options = options_for(broker, {"events"});
  options.stop = StopAt::kNever;
  auto position = [](int32_t partition, int64_t next) {
    kafka::KafkaPartitionPosition p{"events", partition, next, -1};
    return SplitPosition{partition, encode_versioned(kafka::KafkaPartitionPosition::kFormat, p)};
  };
  std::vector<SplitPosition> checkpoint = {position(0, RD_KAFKA_OFFSET_END),
                                           position(1, RD_KAFKA_OFFSET_BEGINNING),
                                           position(2, RD_KAFKA_OFFSET_STORED)};
  auto reader = open_reader(options, 0, 1, nullptr, &checkpoint);
  std::vector<SplitSlice> plan = reader->plan_slices(0);
  // The group has no committed offset: earliest, as auto.offset.reset says.
  EXPECT_EQ(plan, (std::vector<SplitSlice>{
                      {0, 10, 10, 10, false}, {1, 0, 10, 10, false}, {2, 0, 10, 10, false}}));
  EXPECT_EQ(next_offsets(*reader), (std::map<int32_t, int64_t>{{0, 10}, {1, 0}, {2, 0}}));
  reader->start_slices(plan);
  SliceRead<Msg> read = read_kafka_slice(*reader);
  expect_slice_offsets(read.values, plan);

  // A restored reader replaying a planned slice without planning: the
  // position the plan resolved is where it starts, whatever the consumer
  // fetches before it.
  auto replay = open_reader(options, 0, 1, nullptr, &checkpoint);
  replay->start_slices({});
  EXPECT_TRUE(read_kafka_slice(*replay).ended);  // assigns the symbolic positions
  std::vector<SplitSlice> replayed = {{1, 3, 6, 10, false}};
  replay->start_slices(replayed);
  read = read_kafka_slice(*replay);
  expect_slice_offsets(read.values, replayed);
  EXPECT_EQ(next_offsets(*replay)[1], 6);
}

TEST(KafkaSlices, PartitionsDiscoveredDuringASliceJoinTheNextPlan) {
  DevKafkaBroker broker(1);
  broker.create_topic("late", 2);
  broker.set_topic_error("late", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
  KafkaSourceOptions options = options_for(broker, {"late"});
  options.stop = StopAt::kNever;
  options.partition_discovery_interval = 50;
  auto reader = open_reader(options, 0, 1);
  EXPECT_TRUE(reader->plan_slices(0).empty());
  reader->start_slices({});
  EXPECT_TRUE(read_kafka_slice(*reader).ended);  // no partitions: over at once

  broker.set_topic_error("late", RD_KAFKA_RESP_ERR_NO_ERROR);
  std::vector<Msg> input = produce(broker.bootstraps(), "late", 2, 10);
  // Discovery runs on the reader's `now`: a read past the interval finds
  // both partitions, which have no slice yet and read nothing.
  reader->start_slices({});
  Batch<Msg> batch;
  ReadResult result =
      reader->read(batch, kMaxBatchRecords, SystemClock::instance().now_ms() + 60'000);
  EXPECT_EQ(result.status, ReadStatus::kSliceEnd);
  EXPECT_TRUE(batch.empty());

  std::vector<SplitSlice> plan = reader->plan_slices(0);
  EXPECT_EQ(plan, (std::vector<SplitSlice>{{0, 0, 5, 5, false}, {1, 0, 5, 5, false}}));
  reader->start_slices(plan);
  SliceRead<Msg> read = read_kafka_slice(*reader);
  EXPECT_EQ(sorted(read.values), sorted(input));
}

TEST(KafkaSlices, AFailedWatermarkLookupNamesThePartition) {
  DevKafkaBroker broker(1);
  broker.create_topic("events", 1);
  KafkaSourceOptions options = options_for(broker, {"events"});
  options.stop = StopAt::kNever;  // bounded, the empty partition would be finished: no lookup
  options.start_timeout = 1'000;  // also bounds each lookup of a plan
  auto reader = open_reader(options, 0, 1);
  broker.set_broker_down(BrokerId{1});
  try {
    reader->plan_slices(0);
    ADD_FAILURE() << "a plan without a broker";
  } catch (const ExternalError& error) {
    EXPECT_NE(std::string(error.what())
                  .find("kafka source 'events': cannot look up the offsets of topic events "
                        "partition 0: "),
              std::string::npos)
        << error.what();
  }
  broker.set_broker_up(BrokerId{1});
}

}  // namespace
}  // namespace sluice
