// Test support for the Kafka source tests (kafka_source_test.cc): the
// record type the tests read, a librdkafka producer that makes the input,
// and readers opened and drained the way a source task drives them. Used by
// one test thread at a time.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include "connectors/kafka/dev_broker.h"
#include "connectors/kafka/kafka_source.h"
#include "runtime/core/clock.h"
#include "runtime/metrics/metrics.h"
#include "tests/slice_support.h"

namespace sluice::testing::kafka_support {

using kafka::DevKafkaBroker;
using kafka::KafkaRecord;
using kafka::KafkaSource;
using kafka::KafkaSourceOptions;
using kafka::KafkaSourceReader;
using kafka::StopAt;

constexpr auto kTimeout = std::chrono::seconds(30);

// One record as the tests see it.
struct Msg {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string value;
  SLUICE_FIELDS(topic, partition, offset, value)
  auto operator<=>(const Msg&) const = default;
};

struct ToMsg {
  std::optional<Msg> operator()(const KafkaRecord& r) const {
    return Msg{std::string(r.topic), r.partition, r.offset, std::string(r.value)};
  }
};

using MsgSource = KafkaSource<Msg, ToMsg>;
using MsgReader = KafkaSourceReader<Msg, ToMsg>;

// ---------------------------------------------------------------------------
// Producing.

struct Header {
  std::string name;
  std::optional<std::string> value;
};

struct Outgoing {
  std::string topic;
  int32_t partition = 0;
  std::optional<std::string> key;
  std::string value;
  int64_t timestamp = 0;  // 0: the producer's clock
  std::vector<Header> headers;
};

class Producer {
 public:
  explicit Producer(const std::string& bootstraps)
      : client_(kafka::make_client(RD_KAFKA_PRODUCER,
                                   {{"bootstrap.servers", bootstraps},
                                    {"enable.idempotence", "true"},
                                    {"linger.ms", "1"},
                                    {"message.timeout.ms", "20000"}},
                                   "test producer")) {}

  void send(const Outgoing& m) {
    rd_kafka_headers_t* headers = rd_kafka_headers_new(m.headers.size());
    for (const Header& h : m.headers) {
      rd_kafka_header_add(headers, h.name.data(), static_cast<ssize_t>(h.name.size()),
                          h.value ? h.value->data() : nullptr,
                          h.value ? static_cast<ssize_t>(h.value->size()) : 0);
    }
    rd_kafka_resp_err_t error = rd_kafka_producev(
        client_.get(), RD_KAFKA_V_TOPIC(m.topic.c_str()), RD_KAFKA_V_PARTITION(m.partition),
        RD_KAFKA_V_KEY((m.key ? m.key->data() : nullptr), (m.key ? m.key->size() : 0)),
        RD_KAFKA_V_VALUE(const_cast<char*>(m.value.data()), m.value.size()),
        RD_KAFKA_V_TIMESTAMP(m.timestamp), RD_KAFKA_V_HEADERS(headers),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (error != RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_headers_destroy(headers);
    ASSERT_EQ(error, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(error);
  }

  void send(const std::string& topic, int32_t partition, const std::string& value) {
    send(Outgoing{topic, partition, std::nullopt, value, 0, {}});
  }

  void flush() { ASSERT_EQ(rd_kafka_flush(client_.get(), 30'000), RD_KAFKA_RESP_ERR_NO_ERROR); }

 private:
  kafka::KafkaHandle client_;
};

// Produces `count` values "T-I" (I from `first`) round-robin over the
// partitions; returns what a reader should see, assuming the partitions
// held exactly the records of earlier calls with I < first.
inline std::vector<Msg> produce(const std::string& bootstraps, const std::string& topic,
                                int partitions, int count, int first = 0) {
  Producer producer(bootstraps);
  std::vector<Msg> sent;
  for (int i = first; i < first + count; ++i) {
    std::string value = fmt::format("{}-{}", topic, i);
    producer.send(topic, i % partitions, value);
    sent.push_back(Msg{topic, i % partitions, (i / partitions), value});
  }
  producer.flush();
  return sent;
}

// ---------------------------------------------------------------------------
// Reading.

inline KafkaSourceOptions options_for(const DevKafkaBroker& broker,
                                      std::vector<std::string> topics) {
  KafkaSourceOptions options;
  options.topics = std::move(topics);
  options.properties = {
      {"bootstrap.servers", broker.bootstraps()}, {"fetch.wait.max.ms", "10"}, {"log_level", "3"}};
  options.stop = StopAt::kLatest;
  options.start_timeout = 10'000;
  return options;
}

inline std::unique_ptr<MsgReader> open_reader(const KafkaSourceOptions& options, int subtask,
                                              int parallelism, JobMetrics* metrics = nullptr,
                                              const std::vector<SplitPosition>* restore = nullptr) {
  auto reader = MsgSource(options, ToMsg{}).make_reader(subtask, parallelism);
  SourceReaderContext context;
  context.subtask = subtask;
  context.parallelism = parallelism;
  context.task_name = fmt::format("test/kafka/{}", subtask);
  context.clock = &SystemClock::instance();
  context.metrics = metrics;
  reader->open(context);
  if (restore != nullptr) reader->restore_positions(*restore);
  return reader;
}

struct Drained {
  std::vector<Msg> records;
  std::set<int> finished_splits;
  bool finished = false;
};

// Calls read() as the source task would until kFinished, `stop_after`
// records, or the timeout. Waiting until retry_at is the task's own wait
// between polls, not synchronisation: every turn re-checks the condition.
inline Drained drain(SourceReader<Msg>& reader, size_t stop_after = SIZE_MAX,
                     std::chrono::milliseconds timeout = kTimeout) {
  Drained result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Batch<Msg> batch;
  while (result.records.size() < stop_after && std::chrono::steady_clock::now() < deadline) {
    batch.clear();
    size_t room = std::min<size_t>(kMaxBatchRecords, stop_after - result.records.size());
    ReadResult r = reader.read(batch, room, SystemClock::instance().now_ms());
    for (Record<Msg>& record : batch) result.records.push_back(std::move(record.value));
    if (r.status == ReadStatus::kSplitFinished) result.finished_splits.insert(r.split);
    if (r.status == ReadStatus::kFinished) {
      result.finished = true;
      break;
    }
    if (r.status == ReadStatus::kNotYet) {
      auto until_retry = std::chrono::milliseconds(
          std::clamp<int64_t>(r.retry_at - SystemClock::instance().now_ms(), 0, 20));
      std::this_thread::sleep_for(until_retry);  // sleep-ok: the reader's retry time
    }
  }
  return result;
}

inline std::vector<Msg> sorted(std::vector<Msg> records) {
  std::sort(records.begin(), records.end());
  return records;
}

inline std::vector<kafka::KafkaPartitionPosition> decode_all(
    const std::vector<SplitPosition>& stored) {
  std::vector<kafka::KafkaPartitionPosition> positions;
  for (const SplitPosition& p : stored) {
    positions.push_back(decode_versioned<kafka::KafkaPartitionPosition>(
        kafka::KafkaPartitionPosition::kFormat, p.position));
  }
  return positions;
}

// Produces `values` to partition 0 of `topic` in one committed transaction:
// the commit marker takes the offset after them, a gap no consumer sees.
inline void produce_transaction(const std::string& bootstraps, const std::string& topic,
                                const std::vector<std::string>& values) {
  kafka::KafkaHandle client = kafka::make_client(
      RD_KAFKA_PRODUCER,
      {{"bootstrap.servers", bootstraps}, {"transactional.id", "slices-" + topic}},
      "test transactional producer");
  auto ok = [](rd_kafka_error_t* error) {
    if (error == nullptr) return true;
    ADD_FAILURE() << rd_kafka_error_string(error);
    rd_kafka_error_destroy(error);
    return false;
  };
  if (!ok(rd_kafka_init_transactions(client.get(), 30'000))) return;
  if (!ok(rd_kafka_begin_transaction(client.get()))) return;
  for (const std::string& value : values) {
    ASSERT_EQ(
        rd_kafka_producev(client.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
                          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
        RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  ok(rd_kafka_commit_transaction(client.get(), 30'000));
}

// ---------------------------------------------------------------------------
// Micro-batch slices.

// Reads a started slice as the source task would until kSliceEnd or
// kFinished, waiting out kNotYet (the task's own wait between polls); fails
// the test when the slice does not end within `timeout`.
inline SliceRead<Msg> read_kafka_slice(SourceReader<Msg>& reader,
                                       std::chrono::milliseconds timeout = kTimeout) {
  SliceRead<Msg> read;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Batch<Msg> batch;
  while (!read.ended && std::chrono::steady_clock::now() < deadline) {
    batch.clear();
    ReadResult r = reader.read(batch, kMaxBatchRecords, SystemClock::instance().now_ms());
    take_read(r, batch, kMaxBatchRecords, read);
    if (r.status == ReadStatus::kNotYet) {
      auto until_retry = std::chrono::milliseconds(
          std::clamp<int64_t>(r.retry_at - SystemClock::instance().now_ms(), 0, 20));
      std::this_thread::sleep_for(until_retry);  // sleep-ok: the reader's retry time
    }
  }
  if (!read.ended) ADD_FAILURE() << "the slice did not end in " << timeout.count() << " ms";
  return read;
}

// Checks that `values` hold exactly the offsets [start, end) of every slice
// of `plan` (one topic, so split = partition), each partition's in order.
// Only for partitions without gaps (no transaction markers).
inline void expect_slice_offsets(const std::vector<Msg>& values,
                                 const std::vector<SplitSlice>& plan) {
  std::map<int32_t, std::vector<int64_t>> by_partition;
  for (const Msg& m : values) by_partition[m.partition].push_back(m.offset);
  size_t expected_count = 0;
  for (const SplitSlice& slice : plan) {
    std::vector<int64_t> expected;
    for (int64_t offset = slice.start; offset < slice.end; ++offset) expected.push_back(offset);
    EXPECT_EQ(by_partition[slice.split], expected) << "partition " << slice.split;
    expected_count += expected.size();
  }
  EXPECT_EQ(values.size(), expected_count);
}

// The next offset of every partition in `reader`'s snapshot, by partition.
inline std::map<int32_t, int64_t> next_offsets(const SourceReader<Msg>& reader) {
  std::map<int32_t, int64_t> offsets;
  for (const auto& p : decode_all(reader.snapshot_positions()))
    offsets[p.partition] = p.next_offset;
  return offsets;
}

}  // namespace sluice::testing::kafka_support
