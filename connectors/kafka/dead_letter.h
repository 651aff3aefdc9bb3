// The dead-letter topic of a Kafka source: malformed records go there as
// they came (key, value, headers, timestamp), with two more headers,
// "sluice.error" (what was wrong) and "sluice.origin" (topic, partition and
// offset), instead of failing the job. flush() at every checkpoint makes the
// dead letters sent before it durable (at-least-once: a replay after a
// restore may send some again).
//
// Threading: owned by one source reader, on its task thread.
// Lifecycle: construct (creates the producer) -> send* / flush* -> destroy.
#pragma once

#include <string>

#include "connectors/kafka/kafka_client.h"
#include "connectors/kafka/kafka_source_options.h"

namespace sluice::kafka {

class DeadLetters {
 public:
  // `properties`: the source's client settings (consumer-only ones are
  // ignored by the producer). `source`: the source's name, for errors.
  DeadLetters(const Properties& properties, std::string topic, std::string source);

  // Queues `record` with the error; throws ExternalError when the producer
  // cannot take it within the bound.
  void send(const KafkaRecord& record, std::string_view error);
  // Waits until every queued dead letter is acknowledged; throws
  // ExternalError naming the topic when one failed or the bound passed.
  void flush();
  uint64_t sent() const { return sent_; }
  const std::string& topic() const { return topic_; }

 private:
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque);

  std::string topic_;
  std::string source_;
  KafkaHandle producer_;
  uint64_t sent_ = 0;
  std::string first_failure_;  // set by the delivery callback, on this thread
};

}  // namespace sluice::kafka
