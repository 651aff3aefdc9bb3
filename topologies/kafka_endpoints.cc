#include "topologies/kafka_endpoints.h"

#include <set>

namespace sluice::topologies {
namespace {

constexpr std::string_view kScheme = "kafka:";

// The kafka.* parameters that are Sluice's, not librdkafka's.
const std::set<std::string>& own_params() {
  static const std::set<std::string> names{"kafka.start",
                                           "kafka.stop",
                                           "kafka.guarantee",
                                           "kafka.transactional-id",
                                           "kafka.partition-discovery",
                                           "kafka.offset-reset"};
  return names;
}

kafka::Properties client_properties(const Params& params) {
  std::map<std::string, std::string> passed = params.with_prefix("kafka.");
  for (const std::string& own : own_params()) passed.erase(own);
  kafka::Properties properties = kafka::properties_from_params(passed);
  if (!properties.count("bootstrap.servers")) {
    throw UsageError("a kafka: endpoint needs --set kafka.bootstrap=HOST:PORT[,...]");
  }
  return properties;
}

void set_start(const std::string& text, kafka::KafkaSourceOptions& options) {
  constexpr std::string_view kTimestamp = "timestamp:";
  if (text.compare(0, kTimestamp.size(), kTimestamp) != 0) {
    options.start = kafka::parse_start_from(text);
    return;
  }
  std::string ms = text.substr(kTimestamp.size());
  char* end = nullptr;
  long long value = std::strtoll(ms.c_str(), &end, 10);
  if (ms.empty() || *end != '\0' || value < 0) {
    throw UsageError("parameter 'kafka.start': '" + text + "' is not timestamp:MILLISECONDS");
  }
  options.start = kafka::StartFrom::kTimestamp;
  options.start_timestamp = value;
}

}  // namespace

std::optional<std::string> kafka_topic(const std::string& param, const std::string& endpoint) {
  if (endpoint.compare(0, kScheme.size(), kScheme) != 0) return std::nullopt;
  std::string topic = endpoint.substr(kScheme.size());
  if (topic.empty()) throw UsageError("parameter '" + param + "': kafka: needs a topic");
  return topic;
}

std::vector<ParamSpec> with_kafka_params(std::vector<ParamSpec> specs) {
  std::vector<ParamSpec> kafka{
      {"kafka.bootstrap", "Kafka brokers HOST:PORT[,...] for kafka:TOPIC endpoints", ""},
      {"kafka.start", "where a kafka: input starts: earliest, latest, group or timestamp:MS",
       "earliest"},
      {"kafka.stop", "never (unbounded) or latest (stop at the ends when the job started)",
       "never"},
      {"kafka.guarantee", "kafka: output: none, at-least-once or exactly-once", "at-least-once"},
      {"kafka.transactional-id", "exactly-once kafka: output: transactional.id prefix", ""},
      {"kafka.partition-discovery", "how often a kafka: input looks for new partitions", "5m"},
      {"kafka.offset-reset",
       "a kafka: input whose position retention deleted: fail, or skip to earliest or latest "
       "(counted)",
       "fail"},
      {"kafka.*", "any librdkafka setting for the kafka: endpoints, passed through", ""},
  };
  specs.insert(specs.end(), kafka.begin(), kafka.end());
  return specs;
}

kafka::KafkaSourceOptions kafka_source_options(const Params& params, const std::string& topic,
                                               const std::string& name) {
  kafka::KafkaSourceOptions options;
  options.name = name;
  options.topics = {topic};
  options.properties = client_properties(params);
  set_start(params.get("kafka.start"), options);
  options.stop = kafka::parse_stop_at(params.get("kafka.stop"));
  options.partition_discovery_interval = params.get_duration("kafka.partition-discovery");
  options.offset_reset = kafka::parse_offset_reset(params.get("kafka.offset-reset"));
  return options;
}

kafka::KafkaSinkOptions kafka_sink_options(const Params& params, const std::string& topic,
                                           const std::string& job) {
  kafka::KafkaSinkOptions options;
  options.topic = topic;
  options.properties = client_properties(params);
  options.guarantee = kafka::parse_kafka_guarantee(params.get("kafka.guarantee"));
  if (options.guarantee != kafka::KafkaGuarantee::kExactlyOnce) return options;
  if (params.checkpoint_interval() <= 0) {
    throw UsageError(
        "kafka.guarantee=exactly-once needs checkpoints (--checkpoint-dir and "
        "--checkpoint-interval, or --mode microbatch)");
  }
  options.checkpoint_interval_ms = params.checkpoint_interval();
  options.transactional_id_prefix =
      params.get_or("kafka.transactional-id", "sluice-" + job + "-" + topic);
  options.properties.try_emplace(
      "transaction.timeout.ms",
      std::to_string(params.checkpoint_interval() + 2 * kafka::kRecoveryMarginMs));
  return options;
}

}  // namespace sluice::topologies
