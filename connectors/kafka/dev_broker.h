// A Kafka-protocol broker for development and tests: librdkafka's mock
// cluster, hosted in this process. `sluice dev-kafka` runs one; tests may
// embed one directly.
//
// The mock listens on 127.0.0.1, one random port per broker (there is no way
// to choose them), and serves produce, fetch, consumer groups, idempotent and
// transactional producers. It does NOT implement read_committed filtering,
// transactional offset commits, producer fencing, transaction timeouts,
// offsets_for_times or the Admin API, and keeps only the last ~5 MiB per
// partition (older data is dropped silently). docs/architecture.md has the
// details; kLimitations is the warning to show users.
//
// Threading: every method may be called from any thread, concurrently, until
// the destructor starts. The mock runs its own I/O thread; create_topic and
// the fault-injection calls are requests to that thread and return once it
// has applied them. bootstraps() is fixed at construction.
// Lifecycle: construct (the brokers listen before the constructor returns)
// -> create_topic, set_broker_down/up as needed -> destroy (closes the
// listeners and every client connection; clients see the brokers vanish;
// usually takes about 1 s, the mock thread's poll interval in 2.0.2).
// librdkafka's own log lines go to the connectors logger (warnings and
// errors only: the hosting handle's notices are noise).
#pragma once

#include <cstdint>
#include <string>

#include "connectors/kafka/kafka_client.h"

// The mock cluster's handle type, declared here so that this header does not
// pull in rdkafka_mock.h.
struct rd_kafka_mock_cluster_s;

namespace sluice::kafka {

// A broker of the mock cluster; ids run from 1 to the broker count.
enum class BrokerId : int32_t {};

class DevKafkaBroker {
 public:
  // What the mock does not do, in one line, for the warning users see.
  static const char* const kLimitations;

  // Starts `brokers` brokers. Throws UsageError when `brokers` < 1 and
  // ExternalError when librdkafka cannot start the cluster (e.g. no ports).
  explicit DevKafkaBroker(int brokers);
  ~DevKafkaBroker();
  DevKafkaBroker(const DevKafkaBroker&) = delete;
  DevKafkaBroker& operator=(const DevKafkaBroker&) = delete;

  int broker_count() const { return broker_count_; }

  // Creates topic `name` with `partitions` partitions, replicated on every
  // broker (replication factor = broker count; partition leaders are spread
  // over the brokers). Throws UsageError when `partitions` < 1 and
  // ExternalError when the mock refuses, e.g. because the topic exists.
  // Topics that clients ask for without creating them are auto-created by
  // the mock with its defaults.
  void create_topic(const std::string& name, int partitions);

  // The bootstrap list, "127.0.0.1:PORT,127.0.0.1:PORT,...", one entry per
  // broker in id order.
  const std::string& bootstraps() const { return bootstraps_; }

  // Fault injection: a broker that is down drops its connections and refuses
  // new ones (connection refused); partition leadership does not move.
  // Throws UsageError for an id outside 1..broker_count().
  void set_broker_down(BrokerId broker);
  void set_broker_up(BrokerId broker);
  // Fault injection: metadata answers about `topic` carry `error` (e.g.
  // RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, to hide a topic; NO_ERROR ends
  // it). Other requests about the topic are unaffected.
  void set_topic_error(const std::string& topic, rd_kafka_resp_err_t error);

 private:
  int32_t checked_id(BrokerId broker) const;

  KafkaHandle client_;  // needed by the mock for its bookkeeping; never connects
  rd_kafka_mock_cluster_s* cluster_ = nullptr;
  int broker_count_ = 0;
  std::string bootstraps_;
};

}  // namespace sluice::kafka
