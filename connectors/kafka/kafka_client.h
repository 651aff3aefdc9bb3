// What every Kafka connector shares: librdkafka handles that free
// themselves, clients built from string settings with one-line errors, and
// librdkafka's log forwarded to the connectors logger.
//
// Settings: a connector takes librdkafka settings as a map ("bootstrap.servers",
// "security.protocol", ...). Topology parameters spell them "kafka.NAME";
// properties_from_params() strips the prefix and maps the short
// "kafka.bootstrap" to bootstrap.servers.
//
// Threading: the functions are safe from any thread. A handle is as
// thread-safe as librdkafka makes it (producers and consumers may be polled
// from one thread while others produce).
#pragma once

#include <map>
#include <memory>
#include <string>

#include <librdkafka/rdkafka.h>

namespace sluice::kafka {

using Properties = std::map<std::string, std::string>;

struct HandleDeleter {
  void operator()(rd_kafka_t* handle) const;
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, HandleDeleter>;

struct TopicPartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
};
using TopicPartitionList =
    std::unique_ptr<rd_kafka_topic_partition_list_t, TopicPartitionListDeleter>;

struct MessageDeleter {
  void operator()(rd_kafka_message_t* message) const { rd_kafka_message_destroy(message); }
};
using KafkaMessage = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;

// The settings in `params` named "kafka.X", as librdkafka setting X
// ("kafka.bootstrap" becomes bootstrap.servers).
Properties properties_from_params(const std::map<std::string, std::string>& params);

// Creates a producer or consumer with `properties`, logging through the
// connectors logger. `what` names the client in errors ("kafka source
// 'events'"). Throws UsageError naming a setting librdkafka rejects,
// ExternalError when the client cannot be created. `configure` may add
// callbacks to the configuration before the client is created.
KafkaHandle make_client(rd_kafka_type_t type, const Properties& properties, const std::string& what,
                        void (*configure)(rd_kafka_conf_t*, void*) = nullptr,
                        void* opaque = nullptr);

// "Broker: Unknown topic or partition (UNKNOWN_TOPIC_OR_PART)".
std::string error_text(rd_kafka_resp_err_t error);

}  // namespace sluice::kafka
