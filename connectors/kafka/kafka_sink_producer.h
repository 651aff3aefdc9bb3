// One librdkafka producer of a Kafka sink writer, with its delivery
// accounting and librdkafka's errors mapped to Sluice's: a fatal producer
// error or a bound that passed throws ExternalError (the job restarts from
// its checkpoint); transient errors are retried by librdkafka and logged.
//
// Threading: owned by one sink writer and used only on its task's thread.
// Delivery reports and error callbacks run inside poll()/flush() and the
// transaction calls, on that same thread, so nothing here locks.
// Lifecycle: construct (creates the client; connects in the background) ->
// wait_for_brokers / init_transactions -> produce* with poll -> flush or
// transaction calls -> destroy. Destroying does not flush and does not
// abort an open transaction (a crash does neither).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <librdkafka/rdkafka.h>

#include "connectors/kafka/kafka_client.h"
#include "connectors/kafka/kafka_message.h"
#include "runtime/core/time.h"

namespace sluice::kafka {

struct TopicDeleter {
  void operator()(rd_kafka_topic_t* topic) const { rd_kafka_topic_destroy(topic); }
};
using TopicHandle = std::unique_ptr<rd_kafka_topic_t, TopicDeleter>;

// Delivery outcomes since the last take_failures().
struct DeliveryStats {
  uint64_t delivered = 0;  // over the producer's life
  uint64_t failed = 0;     // over the producer's life
  uint64_t failed_since_taken = 0;
  std::string first_failure;  // since taken: "topic [partition]: error"
};

class SinkProducer {
 public:
  // `transactional_id` empty: a plain producer. `what` starts every error
  // message and log line ("task: kafka sink 'topic'"). Throws UsageError
  // for a setting librdkafka rejects.
  SinkProducer(const Properties& properties, const std::string& topic,
               const std::string& transactional_id, std::string what, DurationMs operation_timeout);
  SinkProducer(const SinkProducer&) = delete;
  SinkProducer& operator=(const SinkProducer&) = delete;

  const std::string& transactional_id() const { return transactional_id_; }
  rd_kafka_t* handle() const { return handle_.get(); }

  // Waits until a broker answers a metadata request, retrying with backoff
  // (librdkafka reconnects meanwhile) for at most `timeout`; then throws
  // ExternalError "... cannot reach the Kafka brokers (...) within N ms: ...".
  void wait_for_brokers(DurationMs timeout);

  // Sends `message` to the sink's topic, copying its bytes. A full local
  // queue is drained by polling, for at most the operation timeout. Returns
  // librdkafka's immediate error (NO_ERROR when queued).
  rd_kafka_resp_err_t produce(const KafkaOutMessage& message);
  // Sends one small record to `topic` (markers). Throws ExternalError.
  void produce_marker(const std::string& topic, int32_t partition, std::string_view key,
                      std::string_view value);

  // Serves delivery reports without waiting; throws on a fatal error.
  void poll();
  // Waits (bounded) until every message has its delivery report; throws
  // ExternalError on timeout or a fatal error.
  void flush();
  DeliveryStats& stats() { return stats_; }
  // Failures since the previous call (and the first one's text).
  uint64_t take_failures(std::string& first);
  // Throws ExternalError when librdkafka reports a fatal error.
  void check_fatal();

  // Transactions (design section 8). Each retries retriable errors within
  // the bound and throws ExternalError otherwise; an abortable error aborts
  // the transaction first and says so.
  void init_transactions(DurationMs timeout);
  void begin_transaction();
  void commit_transaction();
  // Best effort (used after failures): logs instead of throwing.
  void abort_transaction();
  bool in_transaction() const { return in_transaction_; }

 private:
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque);
  static void on_error(rd_kafka_t*, int error, const char* reason, void* opaque);
  // Throws for `error` (then destroys it) unless it is null.
  void check(rd_kafka_error_t* error, const char* step);

  std::string what_;
  std::string transactional_id_;
  DurationMs operation_timeout_;
  DeliveryStats stats_;
  KafkaHandle handle_;
  TopicHandle topic_;
  bool in_transaction_ = false;
};

}  // namespace sluice::kafka
