// kafka-copy: copies the messages of one Kafka topic to another, key and
// value, with the chosen guarantee: a pass-through job, for moving data and
// for measuring the Kafka connectors against a bare client (bench/kafka.sh).
#include "runtime/job/registry.h"
#include "topologies/kafka_endpoints.h"

namespace sluice::topologies {
namespace {

struct KafkaMessageCopy {
  std::optional<std::string> key;
  std::string value;
  SLUICE_FIELDS(key, value)
};

std::string required_topic(const Params& params, const std::string& name) {
  auto topic = kafka_topic(name, params.get(name));
  if (!topic) throw UsageError("parameter '" + name + "': expected kafka:TOPIC");
  return *topic;
}

void build(Topology& topology, const Params& params) {
  kafka::KafkaSourceOptions in =
      kafka_source_options(params, required_topic(params, "input"), "input");
  auto read = [](const kafka::KafkaRecord& record) {
    KafkaMessageCopy copy;
    if (record.key) copy.key.emplace(*record.key);
    copy.value.assign(record.value);
    return std::optional<KafkaMessageCopy>(std::move(copy));
  };
  auto write = [](const KafkaMessageCopy& copy, kafka::KafkaOutMessage& message) {
    if (copy.key) message.set_key(*copy.key);
    message.set_value(copy.value);
  };
  topology
      .source<KafkaMessageCopy>(
          "input", std::make_shared<kafka::KafkaSource<KafkaMessageCopy, decltype(read)>>(in, read))
      .sink("output",
            kafka::make_kafka_sink<KafkaMessageCopy>(
                kafka_sink_options(params, required_topic(params, "output"), "kafka-copy"), write));
}

SLUICE_TOPOLOGY(TopologySpec{"kafka-copy",
                             "copies the messages of a Kafka topic to another (key and value)",
                             with_kafka_params({
                                 {"input", "kafka:TOPIC to read", "", true},
                                 {"output", "kafka:TOPIC to write", "", true},
                             }),
                             build});

}  // namespace
}  // namespace sluice::topologies
