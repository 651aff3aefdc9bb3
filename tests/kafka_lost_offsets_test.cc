// The Kafka source when its position is no longer on the broker: the
// development broker keeps about the last 5 MiB of a partition, so reading
// from an offset it dropped is data lost before it was read.
#include <string>

#include <gtest/gtest.h>

#include "connectors/kafka/dev_broker.h"
#include "connectors/kafka/kafka_source.h"
#include "runtime/metrics/metrics.h"
#include "tests/kafka_source_support.h"

namespace sluice {
namespace {

using kafka::DevKafkaBroker;
using kafka::KafkaSourceOptions;
using kafka::StartFrom;
using testing::kafka_support::drain;
using testing::kafka_support::Drained;
using testing::kafka_support::open_reader;
using testing::kafka_support::options_for;
using testing::kafka_support::Producer;

// Retention deleted records before they were read (the development broker
// keeps about the last 5 MiB of a partition): by default the read fails and
// names the lost offsets; with kafka.offset-reset it skips to the oldest
// record (or the end) and counts every skipped record. Cannot prove: a
// real broker's retention by time (the mock only trims by size).
TEST(KafkaSource, PositionsThatRetentionDeletedFailTheReadOrAreSkippedAndCounted) {
  DevKafkaBroker broker(1);
  broker.create_topic("trimmed", 1);
  Producer producer(broker.bootstraps());
  const std::string kilobyte(1024, 'x');
  constexpr int kRecords = 8192;  // 8 MiB: the oldest are gone
  for (int i = 0; i < kRecords; ++i) producer.send("trimmed", 0, kilobyte);
  producer.flush();
  KafkaSourceOptions options = options_for(broker, {"trimmed"});
  options.start = StartFrom::kOffsets;
  options.start_offsets = {{{"trimmed", 0}, 0}};

  try {
    auto reader = open_reader(options, 0, 1);
    drain(*reader);
    FAIL() << "reading from a deleted offset did not fail";
  } catch (const InputError& error) {
    std::string what = error.what();
    EXPECT_NE(what.find("kafka source 'trimmed': topic trimmed partition 0: offset 0 is no longer "
                        "on the broker, which holds offsets "),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("offsets 0 to "), std::string::npos) << what;
    EXPECT_NE(what.find("kafka.offset-reset"), std::string::npos) << what;
  }

  options.offset_reset = kafka::OffsetReset::kEarliest;
  JobMetrics metrics;
  auto reader = open_reader(options, 0, 1, &metrics);
  Drained drained = drain(*reader);
  ASSERT_TRUE(drained.finished);
  ASSERT_FALSE(drained.records.empty());
  int64_t first = drained.records.front().offset;
  EXPECT_GT(first, 0);
  EXPECT_EQ(static_cast<int64_t>(drained.records.size()), kRecords - first);
  EXPECT_EQ(metrics.skipped_records.value(), static_cast<uint64_t>(first));
  ASSERT_EQ(metrics.notes().size(), 1u);
  EXPECT_NE(metrics.notes()[0].find("skipped " + std::to_string(first) + " records from offset 0"),
            std::string::npos)
      << metrics.notes()[0];
}

TEST(KafkaSource, AutoOffsetResetIsRefusedForTheReadersOwnSetting) {
  KafkaSourceOptions options;
  options.topics = {"t"};
  options.properties = {{"bootstrap.servers", "127.0.0.1:1"}, {"auto.offset.reset", "earliest"}};
  try {
    validate_kafka_source_options(options);
    FAIL() << "auto.offset.reset was accepted";
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find("set kafka.offset-reset"), std::string::npos)
        << error.what();
  }
}

}  // namespace
}  // namespace sluice
