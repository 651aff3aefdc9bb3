#include "connectors/kafka/dev_broker.h"

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "runtime/core/errors.h"
#include "runtime/core/logging.h"

namespace sluice::kafka {
namespace {

[[noreturn]] void fail(const std::string& what, rd_kafka_resp_err_t error) {
  throw ExternalError(fmt::format("dev-kafka: {}: {}", what, rd_kafka_err2str(error)));
}

}  // namespace

const char* const DevKafkaBroker::kLimitations =
    "this is librdkafka's mock cluster, not Kafka: it does NOT implement read_committed "
    "filtering (aborted and open transactions are visible), transactional offset commits "
    "(send_offsets_to_transaction stores nothing), producer fencing, transaction timeouts, "
    "offsets_for_times or the Admin API, and it keeps only the last ~5 MiB per partition "
    "(older records are dropped silently)";

DevKafkaBroker::DevKafkaBroker(int brokers) : broker_count_(brokers) {
  if (brokers < 1) {
    throw UsageError(fmt::format("dev-kafka: {} brokers; needs at least 1", brokers));
  }
  // The handle that hosts the mock never connects anywhere, so its notices
  // (such as "no bootstrap.servers configured") are noise: log_level 4
  // keeps warnings and errors.
  client_ = make_client(RD_KAFKA_PRODUCER, {{"client.id", "sluice-dev-kafka"}, {"log_level", "4"}},
                        "dev-kafka");
  cluster_ = rd_kafka_mock_cluster_new(client_.get(), brokers);
  if (cluster_ == nullptr) {
    // librdkafka has logged the reason (usually a socket that failed).
    throw ExternalError(
        fmt::format("dev-kafka: cannot start a mock cluster of {} brokers (see the log)", brokers));
  }
  bootstraps_ = rd_kafka_mock_cluster_bootstraps(cluster_);
}

DevKafkaBroker::~DevKafkaBroker() {
  // The cluster first: it uses the handle until it is gone.
  rd_kafka_mock_cluster_destroy(cluster_);
}

void DevKafkaBroker::create_topic(const std::string& name, int partitions) {
  if (partitions < 1) {
    throw UsageError(fmt::format("dev-kafka: topic '{}' with {} partitions; needs at least 1", name,
                                 partitions));
  }
  rd_kafka_resp_err_t error =
      rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, broker_count_);
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) fail("cannot create topic '" + name + "'", error);
}

void DevKafkaBroker::set_broker_down(BrokerId broker) {
  int32_t id = checked_id(broker);
  rd_kafka_resp_err_t error = rd_kafka_mock_broker_set_down(cluster_, id);
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) fail(fmt::format("cannot stop broker {}", id), error);
}

void DevKafkaBroker::set_broker_up(BrokerId broker) {
  int32_t id = checked_id(broker);
  rd_kafka_resp_err_t error = rd_kafka_mock_broker_set_up(cluster_, id);
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) fail(fmt::format("cannot restart broker {}", id), error);
}

void DevKafkaBroker::set_topic_error(const std::string& topic, rd_kafka_resp_err_t error) {
  rd_kafka_mock_topic_set_error(cluster_, topic.c_str(), error);
}

int32_t DevKafkaBroker::checked_id(BrokerId broker) const {
  auto id = static_cast<int32_t>(broker);
  // The mock reads -1 as "every broker"; these wrappers mean exactly one.
  if (id < 1 || id > broker_count_) {
    throw UsageError(
        fmt::format("dev-kafka: no broker {} (the brokers are 1 to {})", id, broker_count_));
  }
  return id;
}

}  // namespace sluice::kafka
