// Tests of the development Kafka broker: DevKafkaBroker in process (topics,
// errors, brokers going down and up), and `sluice dev-kafka` as a child
// process serving a librdkafka producer and consumer and, when installed,
// kcat; its signals, its bootstrap file and its bad command lines.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include "connectors/kafka/dev_broker.h"
#include "runtime/core/errors.h"
#include "tests/kafka_process.h"
#include "tests/process_runner.h"

namespace sluice {
namespace {

using kafka::BrokerId;
using kafka::DevKafkaBroker;
using testing::ChildProcess;
using testing::DevKafkaProcess;
using testing::Kcat;
using testing::ProcessResult;
using testing::read_file;
using testing::TempDir;
using testing::write_file;

constexpr int kKafkaTimeoutMs = 30'000;

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::istringstream in(text);
  for (std::string part; std::getline(in, part, separator);) parts.push_back(part);
  return parts;
}

// The ports of a bootstrap list "127.0.0.1:P1,127.0.0.1:P2,...".
std::vector<int> ports_of(const std::string& bootstraps) {
  std::vector<int> ports;
  for (const std::string& entry : split(bootstraps, ',')) {
    EXPECT_EQ(entry.rfind("127.0.0.1:", 0), 0u) << entry;
    ports.push_back(std::atoi(entry.substr(entry.find(':') + 1).c_str()));
  }
  return ports;
}

bool accepts_connections(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool connected = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return connected;
}

// ---------------------------------------------------------------------------
// DevKafkaBroker in process.

TEST(DevKafkaBroker, ListsOneLocalhostPortPerBroker) {
  DevKafkaBroker broker(3);
  EXPECT_EQ(broker.broker_count(), 3);
  std::vector<int> ports = ports_of(broker.bootstraps());
  ASSERT_EQ(ports.size(), 3u);
  for (int port : ports) EXPECT_TRUE(accepts_connections(port)) << port;
}

TEST(DevKafkaBroker, RejectsBadCountsAndDuplicateTopics) {
  EXPECT_THROW(DevKafkaBroker(0), UsageError);
  DevKafkaBroker broker(1);
  broker.create_topic("events", 2);
  EXPECT_THROW(broker.create_topic("events", 2), ExternalError);
  EXPECT_THROW(broker.create_topic("empty", 0), UsageError);
  EXPECT_THROW(broker.set_broker_down(BrokerId{2}), UsageError);
  EXPECT_THROW(broker.set_broker_up(BrokerId{0}), UsageError);
}

TEST(DevKafkaBroker, BrokerDownRefusesConnectionsUntilUp) {
  DevKafkaBroker broker(2);
  std::vector<int> ports = ports_of(broker.bootstraps());
  ASSERT_EQ(ports.size(), 2u);
  // The bootstrap list is in broker id order.
  broker.set_broker_down(BrokerId{2});
  EXPECT_TRUE(accepts_connections(ports[0]));
  EXPECT_FALSE(accepts_connections(ports[1]));
  broker.set_broker_up(BrokerId{2});
  EXPECT_TRUE(accepts_connections(ports[1]));
}

// ---------------------------------------------------------------------------
// librdkafka clients for the end-to-end tests.

struct KafkaDeleter {
  void operator()(rd_kafka_t* handle) const { rd_kafka_destroy(handle); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

KafkaHandle make_client(rd_kafka_type_t type, const std::map<std::string, std::string>& config) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char reason[512];
  for (const auto& [key, value] : config) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), reason, sizeof(reason)) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      ADD_FAILURE() << key << ": " << reason;
      return nullptr;
    }
  }
  if (type == RD_KAFKA_PRODUCER) {
    rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* message, void*) {
      auto* failures = static_cast<std::vector<std::string>*>(message->_private);
      if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        failures->push_back(rd_kafka_err2str(message->err));
      }
    });
  }
  rd_kafka_t* handle = rd_kafka_new(type, conf, reason, sizeof(reason));
  if (handle == nullptr) {
    rd_kafka_conf_destroy(conf);
    ADD_FAILURE() << "rd_kafka_new: " << reason;
  }
  return KafkaHandle(handle);
}

struct Received {
  int32_t partition;
  int64_t offset;
  std::string key;
  std::string value;
};

// Sends `count` messages "value-I" with key "key-I" to partition I % partitions
// and waits for every delivery report.
void produce(const std::string& bootstraps, const std::string& topic, int count, int partitions) {
  KafkaHandle producer = make_client(RD_KAFKA_PRODUCER, {{"bootstrap.servers", bootstraps},
                                                         {"enable.idempotence", "true"},
                                                         {"linger.ms", "5"},
                                                         {"message.timeout.ms", "20000"}});
  ASSERT_TRUE(producer);
  std::vector<std::string> failures;
  for (int i = 0; i < count; ++i) {
    std::string key = fmt::format("key-{}", i);
    std::string value = fmt::format("value-{}", i);
    rd_kafka_resp_err_t error = rd_kafka_producev(
        producer.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(i % partitions),
        RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_VALUE(value.data(), value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&failures), RD_KAFKA_V_END);
    ASSERT_EQ(error, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(error);
  }
  // Serves the delivery reports until every message has one (or timed out).
  ASSERT_EQ(rd_kafka_flush(producer.get(), kKafkaTimeoutMs), RD_KAFKA_RESP_ERR_NO_ERROR);
  if (!failures.empty()) {
    ADD_FAILURE() << failures.size() << " failed deliveries, the first: " << failures.front();
  }
}

// Reads partitions 0..partitions-1 of `topic` from the beginning until
// `count` messages have arrived or the timeout passed.
std::vector<Received> consume(const std::string& bootstraps, const std::string& topic, int count,
                              int partitions) {
  std::vector<Received> received;
  KafkaHandle consumer = make_client(RD_KAFKA_CONSUMER, {{"bootstrap.servers", bootstraps},
                                                         {"group.id", "dev-kafka-test"},
                                                         {"enable.auto.commit", "false"},
                                                         {"fetch.wait.max.ms", "10"}});
  if (!consumer) return received;
  rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(assignment, topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_resp_err_t assigned = rd_kafka_assign(consumer.get(), assignment);
  rd_kafka_topic_partition_list_destroy(assignment);
  EXPECT_EQ(assigned, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(assigned);

  std::vector<std::string> errors;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kKafkaTimeoutMs);
  while (static_cast<int>(received.size()) < count && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer.get(), 200);
    if (message == nullptr) continue;
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      errors.push_back(rd_kafka_message_errstr(message));
    } else {
      received.push_back(
          Received{message->partition, message->offset,
                   std::string(static_cast<const char*>(message->key), message->key_len),
                   std::string(static_cast<const char*>(message->payload), message->len)});
    }
    rd_kafka_message_destroy(message);
  }
  EXPECT_EQ(static_cast<int>(received.size()), count)
      << "consumer errors: " << ::testing::PrintToString(errors);
  rd_kafka_consumer_close(consumer.get());
  return received;
}

// ---------------------------------------------------------------------------
// `sluice dev-kafka` as a child process.

// A running `sluice dev-kafka` with its stdout in a file.
void expect_warning(const std::string& err) {
  EXPECT_NE(err.find("does NOT implement"), std::string::npos) << err;
  for (const char* missing :
       {"read_committed", "transactional offset commits", "producer fencing",
        "transaction timeouts", "offsets_for_times", "Admin API", "5 MiB per partition"}) {
    EXPECT_NE(err.find(missing), std::string::npos) << missing;
  }
}

TEST(DevKafkaCommand, ServesProducerAndConsumerAndStopsOnSigterm) {
  TempDir dir;
  std::string bootstrap_file = dir.file("bootstrap");
  DevKafkaProcess broker(
      dir, {"--brokers", "2", "--topic", "events:3", "--bootstrap-file", bootstrap_file});
  std::string bootstraps = broker.wait_ready();
  ASSERT_FALSE(bootstraps.empty());
  EXPECT_EQ(read_file(bootstrap_file), bootstraps + "\n");
  EXPECT_EQ(ports_of(bootstraps).size(), 2u);

  constexpr int kMessages = 100;
  constexpr int kPartitions = 3;
  produce(bootstraps, "events", kMessages, kPartitions);
  std::vector<Received> received = consume(bootstraps, "events", kMessages, kPartitions);

  // Every message once, in its partition, at the offsets of its partition in
  // production order (the producer is idempotent, so order is kept).
  std::map<int, Received> by_index;
  std::vector<int64_t> next_offset(kPartitions, 0);
  for (const Received& r : received) {
    ASSERT_EQ(r.key.rfind("key-", 0), 0u) << r.key;
    int i = std::atoi(r.key.c_str() + 4);
    EXPECT_EQ(r.value, fmt::format("value-{}", i));
    EXPECT_EQ(r.partition, i % kPartitions) << r.key;
    ASSERT_GE(r.partition, 0);
    ASSERT_LT(r.partition, kPartitions);
    EXPECT_EQ(r.offset, next_offset[r.partition]++) << r.key;
    EXPECT_EQ(r.offset, i / kPartitions) << r.key;
    EXPECT_TRUE(by_index.emplace(i, r).second) << "twice: " << r.key;
  }
  EXPECT_EQ(by_index.size(), static_cast<size_t>(kMessages));

  broker.child.send_signal(SIGTERM);
  EXPECT_EQ(broker.child.wait(), 0) << broker.child.err();
  expect_warning(broker.child.err());
  EXPECT_NE(broker.child.err().find("stopping on SIGTERM"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(bootstrap_file)) << "the bootstrap file outlived the broker";
}

TEST(DevKafkaCommand, StopsOnSigintAndReplacesAStaleBootstrapFile) {
  TempDir dir;
  std::string bootstrap_file = dir.file("bootstrap");
  write_file(bootstrap_file, "127.0.0.1:1\n");  // left over by an earlier run
  DevKafkaProcess broker(dir, {"--bootstrap-file=" + bootstrap_file});
  std::string bootstraps = broker.wait_ready();
  EXPECT_EQ(ports_of(bootstraps).size(), 1u);
  EXPECT_EQ(read_file(bootstrap_file), bootstraps + "\n");
  broker.child.send_signal(SIGINT);
  EXPECT_EQ(broker.child.wait(), 0) << broker.child.err();
  EXPECT_NE(broker.child.err().find("stopping on SIGINT"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(bootstrap_file));
}

// --listen accepts at the brokers' ports on another address too (here the
// loopback alias 127.0.0.2): a client bootstrapped there gets the mock's
// metadata (127.0.0.1), which leads it to the same broker. Between
// containers, `sluice kafka-relay` makes 127.0.0.1 lead there (covered by
// make compose-test).
TEST(DevKafkaCommand, ListenAcceptsOnAnotherAddressAtTheSamePorts) {
  TempDir dir;
  DevKafkaProcess broker(dir, {"--topic", "events:2", "--listen", "127.0.0.2"});
  std::string bootstraps = broker.wait_ready();
  ASSERT_FALSE(bootstraps.empty());
  std::string other = "127.0.0.2:" + std::to_string(ports_of(bootstraps).at(0));
  produce(other, "events", 10, 2);
  EXPECT_EQ(consume(other, "events", 10, 2).size(), 10u);
}

TEST(DevKafkaCommand, BadOptionsFailWithOneLine) {
  TempDir dir;
  const std::vector<std::vector<std::string>> bad = {
      {"--bogus"},
      {"extra"},
      {"--brokers", "0"},
      {"--brokers", "two"},
      {"--brokers", "65"},
      {"--brokers"},
      {"--topic", "events"},
      {"--topic", "events:0"},
      {"--topic", "events:x"},
      {"--topic", ":3"},
      {"--topic", "bad/name:3"},
      {"--topic", "events:3", "--topic", "events:2"},
      {"--topic"},
      {"--bootstrap-file"},
      {"--bootstrap-file="},
  };
  for (std::vector<std::string> args : bad) {
    std::string shown = ::testing::PrintToString(args);
    args.insert(args.begin(), "dev-kafka");
    ProcessResult result = testing::run_process(SLUICE_BINARY, args, dir.path());
    EXPECT_EQ(result.exit_code, 2) << shown << "\n" << result.err;
    EXPECT_EQ(result.err.rfind("sluice: ", 0), 0u) << shown << "\n" << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << shown << "\n"
                                                                         << result.err;
    EXPECT_EQ(result.out, "") << shown;
  }
}

TEST(DevKafkaCommand, HelpExitsZero) {
  TempDir dir;
  ProcessResult result = testing::run_process(SLUICE_BINARY, {"dev-kafka", "--help"}, dir.path());
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("--bootstrap-file"), std::string::npos);
}

// kcat is an independent client: it produces and consumes through the broker.
TEST(DevKafkaCommand, KcatProducesAndConsumes) {
  TempDir dir;
  DevKafkaProcess broker(dir, {"--brokers", "2", "--topic", "events:3"});
  std::string bootstraps = broker.wait_ready();
  ASSERT_FALSE(bootstraps.empty());
  Kcat kcat(bootstraps, dir.path());
  if (!kcat.installed()) GTEST_SKIP() << "kcat (or timeout) is not installed";
  auto run_kcat = [&](std::vector<std::string> args) { return kcat.run(std::move(args)); };
  ProcessResult metadata = run_kcat({"-L", "-t", "events"});
  ASSERT_EQ(metadata.exit_code, 0) << metadata.err;
  EXPECT_NE(metadata.out.find("2 brokers"), std::string::npos) << metadata.out;
  EXPECT_NE(metadata.out.find("topic \"events\" with 3 partitions"), std::string::npos)
      << metadata.out;

  std::string expected;
  for (int i = 0; i < 20; ++i) expected += fmt::format("k{}=line {}\n", i, i);
  std::string input = expected;
  std::replace(input.begin(), input.end(), '=', ':');
  write_file(dir.file("input"), input);
  ProcessResult produced =
      run_kcat({"-P", "-t", "events", "-p", "0", "-K", ":", "-l", dir.file("input")});
  ASSERT_EQ(produced.exit_code, 0) << produced.err;

  ProcessResult consumed = run_kcat({"-C", "-t", "events", "-p", "0", "-o", "beginning", "-e", "-q",
                                     "-f", "%k=%s\n", "-X", "fetch.wait.max.ms=10"});
  ASSERT_EQ(consumed.exit_code, 0) << consumed.err;
  EXPECT_EQ(consumed.out, expected);

  broker.child.send_signal(SIGTERM);
  EXPECT_EQ(broker.child.wait(), 0) << broker.child.err();
}

}  // namespace
}  // namespace sluice
