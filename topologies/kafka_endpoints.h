// Kafka endpoints of the example topologies. An input or output parameter
// "kafka:TOPIC" reads or writes that topic instead of a file; parameters
// prefixed "kafka." configure it:
//
//   kafka.bootstrap=HOST:PORT[,...]   the brokers (librdkafka bootstrap.servers)
//   kafka.start=earliest|latest|group|timestamp:MS   where reading starts
//   kafka.stop=never|latest           latest: a bounded read up to the ends at start
//   kafka.guarantee=none|at-least-once|exactly-once   the sink's guarantee
//   kafka.transactional-id=PREFIX     exactly-once: names the sink's transactions
//   kafka.partition-discovery=D       how often the source looks for new partitions
//   kafka.NAME=VALUE                  any other librdkafka setting, passed through
//
// Threading: pure functions, called while a topology is built.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "connectors/kafka/kafka_sink.h"
#include "connectors/kafka/kafka_source.h"
#include "runtime/job/registry.h"

namespace sluice::topologies {

// TOPIC for "kafka:TOPIC"; nullopt for anything else (a path). Throws
// UsageError naming `param` for "kafka:" without a topic.
std::optional<std::string> kafka_topic(const std::string& param, const std::string& endpoint);

// `specs` followed by the parameter specs of the endpoints.
std::vector<ParamSpec> with_kafka_params(std::vector<ParamSpec> specs);

// Options of a source reading `topic`, named `name` in messages.
kafka::KafkaSourceOptions kafka_source_options(const Params& params, const std::string& topic,
                                               const std::string& name);

// Options of a sink writing `topic` for topology `job`. Exactly-once needs
// the job's checkpoints; transaction.timeout.ms defaults to the checkpoint
// interval plus twice the sink's recovery margin.
kafka::KafkaSinkOptions kafka_sink_options(const Params& params, const std::string& topic,
                                           const std::string& job);

}  // namespace sluice::topologies
