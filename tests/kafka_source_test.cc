// Tests of the Kafka source against an in-process DevKafkaBroker (librdkafka's
// mock cluster), with a librdkafka producer making the input. Most tests
// drive SourceReaders directly with a small loop; the last runs a real job
// with checkpoints and a restore at another parallelism. The source's
// micro-batch slices are tested in kafka_slices_test.cc.
//
// What the mock cannot prove, for all of them: it is not Kafka. Leadership
// never moves, replicas are metadata only, there is no retention beyond the
// last ~5 MiB per partition, no offsets_for_times, and partitions cannot be
// added to an existing topic. Each test says what it leaves unproven.
#include "connectors/kafka/kafka_source.h"

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
#include "runtime/api/topology.h"
#include "runtime/checkpoint/restore.h"
#include "runtime/core/clock.h"
#include "runtime/executor/local_executor.h"
#include "runtime/metrics/metrics.h"
#include "runtime/task/source_operator.h"
#include "tests/kafka_source_support.h"
#include "tests/process_runner.h"
#include "tests/test_support.h"

namespace sluice {
namespace {

using kafka::BrokerId;
using kafka::DevKafkaBroker;
using kafka::KafkaRecord;
using kafka::KafkaSource;
using kafka::KafkaSourceOptions;
using kafka::StartFrom;
using kafka::StopAt;
using testing::kafka_support::decode_all;
using testing::kafka_support::drain;
using testing::kafka_support::Drained;
using testing::kafka_support::kTimeout;
using testing::kafka_support::Msg;
using testing::kafka_support::MsgSource;
using testing::kafka_support::open_reader;
using testing::kafka_support::options_for;
using testing::kafka_support::produce;
using testing::kafka_support::Producer;
using testing::kafka_support::sorted;
using testing::kafka_support::ToMsg;

// A loopback port with nothing listening.
int closed_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

// ---------------------------------------------------------------------------
// (a) Deterministic assignment.
// The mock cannot prove: behaviour with real leader movement (its leaders
// never move), so the assignment never meets a rebalance it would ignore.

TEST(KafkaSource, EveryPartitionIsReadByExactlyOneSubtaskAndEveryRecordOnce) {
  DevKafkaBroker broker(2);
  broker.create_topic("alpha", 3);
  broker.create_topic("beta", 4);
  std::vector<Msg> input = produce(broker.bootstraps(), "alpha", 3, 120);
  std::vector<Msg> beta = produce(broker.bootstraps(), "beta", 4, 80);
  input.insert(input.end(), beta.begin(), beta.end());
  KafkaSourceOptions options = options_for(broker, {"alpha", "beta"});

  for (int parallelism : {1, 2, 3}) {
    SCOPED_TRACE(fmt::format("parallelism {}", parallelism));
    std::map<int, int> owner_of_split;
    std::vector<Msg> read;
    for (int subtask = 0; subtask < parallelism; ++subtask) {
      auto reader = open_reader(options, subtask, parallelism);
      for (int split : reader->splits()) {
        EXPECT_TRUE(owner_of_split.emplace(split, subtask).second) << "split " << split;
        const std::string& topic = split < kafka::kPartitionsPerTopic ? "alpha" : "beta";
        EXPECT_EQ(kafka::owner_of(topic, split % kafka::kPartitionsPerTopic, parallelism), subtask);
      }
      Drained drained = drain(*reader);
      EXPECT_TRUE(drained.finished);
      std::vector<int> splits = reader->splits();
      EXPECT_EQ(drained.finished_splits, std::set<int>(splits.begin(), splits.end()));
      read.insert(read.end(), drained.records.begin(), drained.records.end());
      reader->close();
    }
    std::set<int> expected_splits = {0, 1, 2, 1'000'000, 1'000'001, 1'000'002, 1'000'003};
    std::set<int> splits;
    for (const auto& [split, subtask] : owner_of_split) splits.insert(split);
    EXPECT_EQ(splits, expected_splits);
    EXPECT_EQ(sorted(read), sorted(input));
  }
}

// ---------------------------------------------------------------------------
// (b) Checkpoint positions and rescaling.
// The mock cannot prove: positions across retention (it drops data past
// ~5 MiB silently; a restored position out of range resets to earliest).

TEST(KafkaSource, RestoreAtAnotherParallelismReadsTheRestExactlyOnce) {
  DevKafkaBroker broker(1);
  broker.create_topic("events", 5);
  std::vector<Msg> input = produce(broker.bootstraps(), "events", 5, 500);
  KafkaSourceOptions options = options_for(broker, {"events"});

  std::vector<Msg> before;
  std::vector<SplitPosition> checkpoint;
  for (int subtask = 0; subtask < 2; ++subtask) {
    auto reader = open_reader(options, subtask, 2);
    Drained part = drain(*reader, 90 + 20 * subtask);  // part-way, mid-partition
    EXPECT_FALSE(part.finished);
    before.insert(before.end(), part.records.begin(), part.records.end());
    std::vector<SplitPosition> positions = reader->snapshot_positions();
    EXPECT_EQ(positions.size(), reader->splits().size());
    checkpoint.insert(checkpoint.end(), positions.begin(), positions.end());
    reader->close();
  }
  EXPECT_EQ(checkpoint.size(), 5u);

  std::vector<Msg> after;
  for (int subtask = 0; subtask < 3; ++subtask) {
    auto reader = open_reader(options, subtask, 3, nullptr, &checkpoint);
    Drained rest = drain(*reader);
    EXPECT_TRUE(rest.finished);
    after.insert(after.end(), rest.records.begin(), rest.records.end());
  }
  std::vector<Msg> all = before;
  all.insert(all.end(), after.begin(), after.end());
  EXPECT_EQ(before.size(), 200u);
  EXPECT_EQ(sorted(all), sorted(input)) << "lost or duplicated records across the restore";
}

TEST(KafkaSource, CorruptPositionsFailTheRestoreWithTheSourceName) {
  DevKafkaBroker broker(1);
  broker.create_topic("events", 1);
  KafkaSourceOptions options = options_for(broker, {"events"});
  auto reader = open_reader(options, 0, 1);
  std::vector<SplitPosition> bad = {{0, "\x01"}};
  try {
    reader->restore_positions(bad);
    FAIL() << "no error";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("kafka source 'events': corrupt checkpoint"),
              std::string::npos)
        << error.what();
  }
}

// ---------------------------------------------------------------------------
// (c) Start positions.
// The mock cannot prove: offsets_for_times (it does not implement it; the
// test only shows the clear failure), nor group offsets under a real
// coordinator failover.

TEST(KafkaSource, StartsAtEarliestLatestExplicitOffsetsAndGroupOffsets) {
  DevKafkaBroker broker(1);
  broker.create_topic("events", 2);
  std::vector<Msg> first = produce(broker.bootstraps(), "events", 2, 20);
  KafkaSourceOptions options = options_for(broker, {"events"});

  {  // earliest: everything
    auto reader = open_reader(options, 0, 1);
    EXPECT_EQ(sorted(drain(*reader).records), sorted(first));
  }
  {  // latest, bounded: nothing, and finished at once
    options.start = StartFrom::kLatest;
    auto reader = open_reader(options, 0, 1);
    Drained drained = drain(*reader);
    EXPECT_TRUE(drained.finished);
    EXPECT_TRUE(drained.records.empty());
  }
  {  // latest, unbounded: only what is produced after open
    options.stop = StopAt::kNever;
    auto reader = open_reader(options, 0, 1);
    std::vector<Msg> later = produce(broker.bootstraps(), "events", 2, 10, 20);
    EXPECT_EQ(sorted(drain(*reader, 10).records), sorted(later));
    first.insert(first.end(), later.begin(), later.end());
    options.stop = StopAt::kLatest;
  }
  {  // explicit offsets; partition 1 from 12, partition 0 from 3
    options.start = StartFrom::kOffsets;
    options.start_offsets = {{{"events", 0}, 3}, {{"events", 1}, 12}};
    std::vector<Msg> expected;
    for (const Msg& m : first) {
      if (m.offset >= (m.partition == 0 ? 3 : 12)) expected.push_back(m);
    }
    auto reader = open_reader(options, 0, 1);
    EXPECT_EQ(sorted(drain(*reader).records), sorted(expected));
  }
  {  // group: a reader commits its checkpoint's positions; the next starts there
    options.start = StartFrom::kGroup;
    options.properties["group.id"] = "start-test";
    options.commit_offsets_on_checkpoint = true;
    auto committer = open_reader(options, 0, 1);  // no commits yet: earliest
    std::vector<Msg> seen = drain(*committer, 11).records;
    EXPECT_EQ(seen.size(), 11u);
    std::vector<SplitPosition> positions = committer->snapshot_positions();
    committer->notify_checkpoint_complete(1);
    // The commit is asynchronous: wait (bounded) until a new reader starts
    // where the committed positions say.
    std::vector<Msg> expected;
    for (const Msg& m : first) {
      if (std::find(seen.begin(), seen.end(), m) == seen.end()) expected.push_back(m);
    }
    std::vector<Msg> rest;
    const auto deadline = std::chrono::steady_clock::now() + kTimeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto reader = open_reader(options, 0, 1);
      rest = drain(*reader).records;
      if (rest.size() == expected.size()) break;
    }
    EXPECT_EQ(sorted(rest), sorted(expected));
    committer->close();
  }
}

TEST(KafkaSource, TimestampStartAfterTheLastRecordStartsAtTheEnd) {
  // The mock does not implement offsets_for_times: it answers every
  // timestamp with "no record at or after it" (offset -1) and no error. So
  // this proves only that answer's handling (start at the end), which is
  // also Kafka's answer for a timestamp in the future; a timestamp inside
  // the data and the failure on a broker error need a real Kafka.
  DevKafkaBroker broker(1);
  broker.create_topic("events", 2);
  produce(broker.bootstraps(), "events", 2, 6);
  KafkaSourceOptions options = options_for(broker, {"events"});
  options.start = StartFrom::kTimestamp;
  options.start_timestamp = SystemClock::instance().now_ms() + 86'400'000;
  options.stop = StopAt::kNever;
  auto reader = open_reader(options, 0, 1);
  std::vector<Msg> later = produce(broker.bootstraps(), "events", 2, 4, 6);
  EXPECT_EQ(sorted(drain(*reader, 4).records), sorted(later));
}

// ---------------------------------------------------------------------------
// (d) Bounded mode.
// The mock cannot prove: ends that include transaction markers written by a
// real transaction coordinator (the end-of-partition event covers them).

TEST(KafkaSource, BoundedReadEndsWhileAProducerKeepsProducing) {
  DevKafkaBroker broker(1);
  broker.create_topic("busy", 3);
  produce(broker.bootstraps(), "busy", 3, 300);
  std::atomic<bool> stop{false};
  std::atomic<int> produced_after{0};
  std::thread producer([&] {
    Producer p(broker.bootstraps());
    for (int i = 0; !stop; ++i) {
      p.send("busy", i % 3, fmt::format("late-{}", i));
      if (i % 50 == 49) p.flush();
      ++produced_after;
    }
    p.flush();
  });
  KafkaSourceOptions options = options_for(broker, {"busy"});
  auto reader = open_reader(options, 0, 1);
  Drained drained = drain(*reader);
  stop = true;
  producer.join();
  EXPECT_TRUE(drained.finished) << "the bounded read did not end";
  // Exactly the records below each partition's stop offset, each once.
  std::map<int32_t, int64_t> stops;
  for (const auto& p : decode_all(reader->snapshot_positions())) {
    EXPECT_EQ(p.next_offset, p.stop_offset);
    stops[p.partition] = p.stop_offset;
  }
  int64_t expected = 0;
  for (const auto& [partition, end] : stops) expected += end;
  EXPECT_GE(expected, 300);
  EXPECT_EQ(static_cast<int64_t>(drained.records.size()), expected);
  std::set<std::pair<int32_t, int64_t>> unique;
  for (const Msg& m : drained.records) {
    EXPECT_LT(m.offset, stops[m.partition]);
    unique.insert({m.partition, m.offset});
  }
  EXPECT_EQ(unique.size(), drained.records.size());
  EXPECT_GT(produced_after.load(), 0);
}

// ---------------------------------------------------------------------------
// (e) Records and malformed input.
// The mock cannot prove: LogAppendTime topics (it keeps the producer's
// CreateTime).

TEST(KafkaSource, DeserializerSeesKeyValueTimestampAndHeaders) {
  DevKafkaBroker broker(1);
  broker.create_topic("rich", 1);
  Producer producer(broker.bootstraps());
  producer.send({"rich", 0, "k1", "v1", 1'700'000'000'123, {{"h1", "x"}, {"h2", std::nullopt}}});
  producer.send({"rich", 0, std::nullopt, "", 1'700'000'000'456, {}});
  producer.flush();

  struct Seen {
    std::optional<std::string> key;
    std::string value;
    Timestamp timestamp;
    kafka::KafkaTimestampType type;
    std::vector<std::pair<std::string, std::optional<std::string>>> headers;
    std::optional<std::string> last_h1;
  };
  auto seen = std::make_shared<std::vector<Seen>>();
  auto capture = [seen](const KafkaRecord& r) -> std::optional<int> {
    Seen s{r.key ? std::optional<std::string>(*r.key) : std::nullopt,
           std::string(r.value),
           r.timestamp,
           r.timestamp_type,
           {},
           std::nullopt};
    for (size_t i = 0; i < r.headers.size(); ++i) {
      kafka::KafkaHeader h = r.headers.at(i);
      s.headers.emplace_back(std::string(h.name),
                             h.value ? std::optional<std::string>(*h.value) : std::nullopt);
    }
    if (auto v = r.headers.last("h1")) s.last_h1 = std::string(*v);
    seen->push_back(std::move(s));
    return 1;
  };
  KafkaSource source(options_for(broker, {"rich"}), capture);
  auto reader = source.make_reader(0, 1);
  SourceReaderContext context;
  context.clock = &SystemClock::instance();
  reader->open(context);
  Batch<int> batch;
  const auto deadline = std::chrono::steady_clock::now() + kTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (reader->read(batch, kMaxBatchRecords, SystemClock::instance().now_ms()).status ==
        ReadStatus::kFinished) {
      break;
    }
  }
  ASSERT_EQ(seen->size(), 2u);
  EXPECT_EQ((*seen)[0].key, "k1");
  EXPECT_EQ((*seen)[0].value, "v1");
  EXPECT_EQ((*seen)[0].timestamp, 1'700'000'000'123);
  EXPECT_EQ((*seen)[0].type, kafka::KafkaTimestampType::kCreateTime);
  using H = std::pair<std::string, std::optional<std::string>>;
  EXPECT_EQ((*seen)[0].headers, (std::vector<H>{{"h1", "x"}, {"h2", std::nullopt}}));
  EXPECT_EQ((*seen)[0].last_h1, "x");
  EXPECT_EQ((*seen)[1].key, std::nullopt);
  EXPECT_EQ((*seen)[1].value, "");
  EXPECT_EQ((*seen)[1].timestamp, 1'700'000'000'456);
  EXPECT_TRUE((*seen)[1].headers.empty());
  EXPECT_EQ(batch.size(), 2u);
}

struct ParseNumber {
  std::optional<int64_t> operator()(const KafkaRecord& r) const {
    std::string text(r.value);
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
      throw r.error("not a number: '" + text + "'");
    }
    return std::stoll(text);
  }
};

std::vector<int64_t> read_numbers(const KafkaSourceOptions& options, JobMetrics* metrics) {
  auto reader = KafkaSource<int64_t, ParseNumber>(options, ParseNumber{}).make_reader(0, 1);
  SourceReaderContext context;
  context.clock = &SystemClock::instance();
  context.metrics = metrics;
  reader->open(context);
  std::vector<int64_t> numbers;
  Batch<int64_t> batch;
  const auto deadline = std::chrono::steady_clock::now() + kTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    batch.clear();
    ReadResult r = reader->read(batch, kMaxBatchRecords, SystemClock::instance().now_ms());
    for (const auto& record : batch) numbers.push_back(record.value);
    if (r.status == ReadStatus::kFinished) break;
  }
  reader->close();
  return numbers;
}

TEST(KafkaSource, MalformedRecordsFailTheJobOrAreSkippedAndCounted) {
  DevKafkaBroker broker(1);
  broker.create_topic("numbers", 1);
  Producer producer(broker.bootstraps());
  for (const char* value : {"1", "2", "x", "4"}) producer.send("numbers", 0, value);
  producer.flush();
  KafkaSourceOptions options = options_for(broker, {"numbers"});

  try {
    read_numbers(options, nullptr);
    FAIL() << "the malformed record did not fail the read";
  } catch (const InputError& error) {
    EXPECT_STREQ(error.what(),
                 "kafka source 'numbers': topic numbers partition 0 offset 2: not a number: 'x'");
  }

  options.on_error = OnError::kSkip;
  JobMetrics metrics;
  EXPECT_EQ(read_numbers(options, &metrics), (std::vector<int64_t>{1, 2, 4}));
  EXPECT_EQ(metrics.skipped_records.value(), 1u);
  ASSERT_EQ(metrics.notes().size(), 1u);
  EXPECT_EQ(metrics.notes()[0],
            "kafka source 'numbers': skipped 1 malformed record (first at topic numbers "
            "partition 0 offset 2: not a number: 'x')");
}

// ---------------------------------------------------------------------------
// (f) Brokers unreachable.
// The mock cannot prove: leader failover to another broker (its leadership
// never moves), so the down broker's partitions simply stall until it is up.

TEST(KafkaSource, UnreachableBootstrapServersFailTheOpenClearly) {
  KafkaSourceOptions options;
  options.topics = {"events"};
  std::string servers = fmt::format("127.0.0.1:{}", closed_port());
  options.properties = {{"bootstrap.servers", servers}, {"log_level", "0"}};
  options.start_timeout = 1'500;
  const auto started = std::chrono::steady_clock::now();
  try {
    open_reader(options, 0, 1);
    FAIL() << "open succeeded without a broker";
  } catch (const ExternalError& error) {
    std::string message = error.what();
    EXPECT_EQ(
        message.rfind("kafka source 'events': cannot reach bootstrap servers " + servers + ": ", 0),
        0u)
        << message;
    EXPECT_EQ(message.find('\n'), std::string::npos);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}

TEST(KafkaSource, ReadingResumesWithoutLossAfterTheBrokerComesBack) {
  DevKafkaBroker broker(1);
  broker.create_topic("events", 2);
  std::vector<Msg> input = produce(broker.bootstraps(), "events", 2, 100);
  KafkaSourceOptions options = options_for(broker, {"events"});
  options.stop = StopAt::kNever;
  auto reader = open_reader(options, 0, 1);
  std::vector<Msg> read = drain(*reader, 100).records;
  ASSERT_EQ(read.size(), 100u);

  broker.set_broker_down(BrokerId{1});
  // Polls while the broker is down: errors are transient, nothing arrives.
  Drained during = drain(*reader, SIZE_MAX, std::chrono::milliseconds(1'000));
  EXPECT_TRUE(during.records.empty());
  EXPECT_FALSE(during.finished);
  broker.set_broker_up(BrokerId{1});

  std::vector<Msg> more = produce(broker.bootstraps(), "events", 2, 100, 100);
  input.insert(input.end(), more.begin(), more.end());
  std::vector<Msg> rest = drain(*reader, 100).records;
  read.insert(read.end(), rest.begin(), rest.end());
  EXPECT_EQ(sorted(read), sorted(input));
}

// ---------------------------------------------------------------------------
// (g) Partition discovery.
// The mock cannot add partitions to an existing topic
// (rd_kafka_mock_topic_create refuses an existing name), so this proves
// discovery of a topic whose partitions appear after the reader opened,
// not of a topic that grows (the same code path: a partition count above
// the one known).

TEST(KafkaSource, DiscoversPartitionsOfATopicThatAppearsLater) {
  // The mock also auto-creates any topic a metadata request names, so the
  // topic exists from the start and is hidden (metadata says "unknown
  // topic") until the test reveals it.
  DevKafkaBroker broker(1);
  broker.create_topic("late", 3);
  broker.set_topic_error("late", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
  KafkaSourceOptions options = options_for(broker, {"late"});
  options.stop = StopAt::kNever;
  options.partition_discovery_interval = 50;
  auto reader = open_reader(options, 0, 1);
  EXPECT_TRUE(reader->splits().empty());
  broker.set_topic_error("late", RD_KAFKA_RESP_ERR_NO_ERROR);
  std::vector<Msg> input = produce(broker.bootstraps(), "late", 3, 30);
  Drained drained = drain(*reader, 30);
  EXPECT_EQ(sorted(drained.records), sorted(input));
  std::set<int> splits;
  for (const auto& p : decode_all(reader->snapshot_positions())) splits.insert(p.partition);
  EXPECT_EQ(splits, (std::set<int>{0, 1, 2}));
}

// ---------------------------------------------------------------------------
// A real job: checkpoints, a cancel, a restore at another parallelism.
// The mock cannot prove: anything about the committed group offsets beyond
// that they were stored (they are for monitoring only).

void build_job(Topology& topology, const KafkaSourceOptions& options,
               std::shared_ptr<Collected<Msg>> collected) {
  topology.source<Msg>("kafka", std::make_shared<MsgSource>(options, ToMsg{}))
      .sink("collect", std::make_shared<CollectSink<Msg>>(collected));
}

TEST(KafkaSource, JobRestoresFromItsCheckpointAtAnotherParallelism) {
  testing::TempDir dir;
  DevKafkaBroker broker(1);
  broker.create_topic("events", 4);
  // 5000 records per partition: run 1 reads them in many batches, so that
  // its checkpoints fall mid-input.
  std::vector<Msg> input = produce(broker.bootstraps(), "events", 4, 20'000);
  KafkaSourceOptions options = options_for(broker, {"events"});
  options.stop = StopAt::kNever;
  options.commit_offsets_on_checkpoint = true;
  options.properties["group.id"] = "job-test";

  // Run 1, unbounded at parallelism 2, cancelled after two checkpoints.
  auto first = std::make_shared<Collected<Msg>>();
  std::atomic<bool> cancel{false};
  LocalJobOptions one;
  one.plan.job_name = "kafka-job";
  one.plan.parallelism = 2;
  one.checkpoint.directory = dir.path();
  one.checkpoint.interval = 40;
  one.progress_interval = 5;
  one.cancel_flag = &cancel;
  one.on_progress = [&](const ProgressSample& s) {
    if (s.checkpoints_completed >= 2 && first->size() >= 2000) cancel = true;
  };
  // The source's throttle paces run 1 so that its checkpoints fall mid-input.
  options.rate = 20'000;
  Topology t1("kafka-job");
  build_job(t1, options, first);
  JobResult cancelled = run_local(t1.graph(), one);
  ASSERT_TRUE(cancelled.cancelled) << (cancelled.failure ? cancelled.failure->message : "");

  // Run 2, bounded at parallelism 3, from the latest checkpoint.
  RestorePoint point = find_restore_point(dir.path(), "kafka-job", "latest");
  options.stop = StopAt::kLatest;
  options.rate = 0;
  auto second = std::make_shared<Collected<Msg>>();
  LocalJobOptions two;
  two.plan.job_name = "kafka-job";
  two.plan.parallelism = 3;
  two.plan.restore = &point.operators;
  two.checkpoint.directory = dir.path();
  two.checkpoint.interval = 40;
  two.last_checkpoint_id = point.metadata.id;
  Topology t2("kafka-job");
  build_job(t2, options, second);
  JobResult finished = run_local(t2.graph(), two);
  ASSERT_TRUE(finished.succeeded) << finished.failure->message;

  // Run 2 reads, per partition, exactly the offsets from the checkpoint's
  // position to the end, each once; with run 1 (which read past the
  // checkpoint before the cancel) it covers the input.
  std::map<int32_t, int64_t> restored;
  for (const auto& p : decode_all(restored_positions(point.operators.at("kafka")))) {
    restored[p.partition] = p.next_offset;
  }
  ASSERT_EQ(restored.size(), 4u);
  std::vector<Msg> after = sorted(second->values());
  std::map<int32_t, std::vector<int64_t>> offsets;
  for (const Msg& m : after) offsets[m.partition].push_back(m.offset);
  for (const auto& [partition, next] : restored) {
    std::vector<int64_t> expected;
    for (int64_t o = next; o < 5000; ++o) expected.push_back(o);
    EXPECT_EQ(offsets[partition], expected) << "partition " << partition;
  }
  EXPECT_LT(after.size(), input.size()) << "run 2 did not start from the checkpoint";
  EXPECT_GT(after.size(), 0u) << "run 1 read everything before its checkpoint";
  std::vector<Msg> all = first->values();
  all.insert(all.end(), after.begin(), after.end());
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  EXPECT_EQ(all, sorted(input));
}

// ---------------------------------------------------------------------------
// (h) Consumer lag, as the metrics show it.
// The mock cannot prove: lag against a broker that moves the high
// watermark of a partition while its leader changes.

TEST(KafkaSource, ReportsItsLagPerPartitionBehindTheHighWatermark) {
  DevKafkaBroker broker(1);
  broker.create_topic("lagging", 2);
  Producer producer(broker.bootstraps());
  for (int i = 0; i < 100; ++i) producer.send("lagging", i % 2, std::to_string(i));
  producer.flush();
  JobMetrics metrics;
  kafka::KafkaFetcher fetcher(options_for(broker, {"lagging"}), 0, 1);
  Timestamp now = 1'000'000;
  fetcher.open("job/src/0", now, &metrics);
  // Take 30 records of partition 0, and whatever partition 1 offers meanwhile
  // (a reader consumes what it is handed: the fetcher polls for more only then).
  int taken = 0;
  int taken_from_1 = 0;
  auto deadline = std::chrono::steady_clock::now() + kTimeout;
  while (taken < 30) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "took " << taken;
    kafka::KafkaFetcher::Next next = fetcher.next(now);
    if (next.status != kafka::KafkaFetcher::Status::kRecords) continue;
    bool first = next.partition->partition == 0;
    while ((!first || taken < 30) && fetcher.peek(*next.partition) != nullptr) {
      fetcher.pop(*next.partition);
      ++(first ? taken : taken_from_1);
    }
  }
  auto lag = [&] {
    std::map<std::string, double> by_partition;
    for (const MetricSample& s : metrics.registry.collect()) {
      if (s.name != "kafka_consumer_lag") continue;
      EXPECT_EQ(s.labels[0], (std::pair<std::string, std::string>{"task", "job/src/0"}));
      EXPECT_EQ(s.labels[1], (std::pair<std::string, std::string>{"topic", "lagging"}));
      by_partition[s.labels[2].second] = s.value;
    }
    return by_partition;
  };
  // The lag is read at most once a second of the source's time.
  std::map<std::string, double> expected{{"0", 20}, {"1", 50 - taken_from_1}};
  bool seen = testing::eventually([&] {
    now += 1000;
    fetcher.next(now);
    return lag() == expected;
  });
  EXPECT_TRUE(seen) << "partition 0: " << lag()["0"] << ", partition 1: " << lag()["1"];
  fetcher.close();
  EXPECT_TRUE(lag().empty());  // gone with the consumer
}

}  // namespace
}  // namespace sluice
