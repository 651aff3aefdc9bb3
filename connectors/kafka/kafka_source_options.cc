#include "connectors/kafka/kafka_source_options.h"

#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "runtime/core/hash.h"

namespace sluice::kafka {
namespace {

void check_non_negative(const std::string& source, const char* what, DurationMs value) {
  if (value < 0) throw UsageError(fmt::format("{}: {} must be >= 0", source, what));
}

void check_positive(const std::string& source, const char* what, DurationMs value) {
  if (value <= 0) throw UsageError(fmt::format("{}: {} must be > 0", source, what));
}

void check_topics(const std::string& source, const std::vector<std::string>& topics) {
  if (topics.empty()) throw UsageError(source + ": no topics given");
  if (topics.size() > static_cast<size_t>(kMaxTopics)) {
    throw UsageError(fmt::format("{}: {} topics; at most {}", source, topics.size(), kMaxTopics));
  }
  std::set<std::string> seen;
  for (const std::string& topic : topics) {
    if (topic.empty()) throw UsageError(source + ": an empty topic name");
    if (!seen.insert(topic).second) throw UsageError(source + ": topic '" + topic + "' twice");
  }
}

void check_start_offsets(const std::string& source, const KafkaSourceOptions& options) {
  std::set<std::string> topics(options.topics.begin(), options.topics.end());
  for (const auto& [where, offset] : options.start_offsets) {
    if (topics.count(where.topic) == 0 || where.partition < 0 || offset < 0) {
      throw UsageError(
          fmt::format("{}: start offset {} for partition {} of topic '{}': needs a listed topic, a "
                      "partition >= 0 and an offset >= 0",
                      source, offset, where.partition, where.topic));
    }
  }
}

}  // namespace

std::string source_name(const KafkaSourceOptions& options) {
  if (!options.name.empty()) return "kafka source '" + options.name + "'";
  return "kafka source '" + fmt::format("{}", fmt::join(options.topics, ",")) + "'";
}

void validate_kafka_source_options(const KafkaSourceOptions& options) {
  const std::string source = source_name(options);
  check_topics(source, options.topics);
  auto bootstrap = options.properties.find("bootstrap.servers");
  if (bootstrap == options.properties.end() || bootstrap->second.empty()) {
    throw UsageError(source + ": no bootstrap.servers (kafka.bootstrap) given");
  }
  check_start_offsets(source, options);
  if (options.properties.count("auto.offset.reset")) {
    throw UsageError(source +
                     ": auto.offset.reset is not passed to librdkafka; set kafka.offset-reset "
                     "(fail, earliest or latest) instead");
  }
  if (options.start == StartFrom::kTimestamp && options.start_timestamp < 0) {
    throw UsageError(source + ": start_timestamp must be >= 0");
  }
  check_non_negative(source, "partition_discovery_interval", options.partition_discovery_interval);
  check_positive(source, "start_timeout", options.start_timeout);
  check_positive(source, "discovery_timeout", options.discovery_timeout);
  check_positive(source, "poll_interval", options.poll_interval);
}

StartFrom parse_start_from(std::string_view text) {
  if (text == "earliest") return StartFrom::kEarliest;
  if (text == "latest") return StartFrom::kLatest;
  if (text == "group") return StartFrom::kGroup;
  if (text == "timestamp") return StartFrom::kTimestamp;
  throw UsageError("kafka start must be earliest, latest, group or timestamp, not \"" +
                   std::string(text) + "\"");
}

StopAt parse_stop_at(std::string_view text) {
  if (text == "never") return StopAt::kNever;
  if (text == "latest") return StopAt::kLatest;
  throw UsageError("kafka stop must be never or latest, not \"" + std::string(text) + "\"");
}

OffsetReset parse_offset_reset(std::string_view text) {
  if (text == "fail") return OffsetReset::kFail;
  if (text == "earliest") return OffsetReset::kEarliest;
  if (text == "latest") return OffsetReset::kLatest;
  throw UsageError("kafka offset reset must be fail, earliest or latest, not \"" +
                   std::string(text) + "\"");
}

int split_index(int topic_index, int32_t partition) {
  if (topic_index < 0 || topic_index >= kMaxTopics || partition < 0 ||
      partition >= kPartitionsPerTopic) {
    throw SluiceError(ErrorKind::kInternal, fmt::format("kafka: no split index for topic #{} "
                                                        "partition {}",
                                                        topic_index, partition));
  }
  return topic_index * kPartitionsPerTopic + partition;
}

int owner_of(const std::string& topic, int32_t partition, int parallelism) {
  const uint64_t n = static_cast<uint64_t>(parallelism);
  const uint64_t start = hash_bytes(topic) % n;
  return static_cast<int>((start + static_cast<uint64_t>(partition)) % n);
}

// ---------------------------------------------------------------------------

const rd_kafka_headers_t* KafkaHeaders::parsed() const {
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(message_, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) return nullptr;
  return headers;
}

size_t KafkaHeaders::size() const {
  const rd_kafka_headers_t* headers = parsed();
  return headers == nullptr ? 0 : rd_kafka_header_cnt(headers);
}

KafkaHeader KafkaHeaders::at(size_t i) const {
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  const rd_kafka_headers_t* headers = parsed();
  if (headers == nullptr ||
      rd_kafka_header_get_all(headers, i, &name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw SluiceError(ErrorKind::kInternal, fmt::format("kafka: no header {}", i));
  }
  KafkaHeader header{name, std::nullopt};
  if (value != nullptr) header.value = std::string_view(static_cast<const char*>(value), size);
  return header;
}

std::optional<std::string_view> KafkaHeaders::last(std::string_view name) const {
  const rd_kafka_headers_t* headers = parsed();
  if (headers == nullptr) return std::nullopt;
  const void* value = nullptr;
  size_t size = 0;
  // rd_kafka_header_get_last wants a NUL-terminated name.
  std::string key(name);
  if (rd_kafka_header_get_last(headers, key.c_str(), &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      value == nullptr) {
    return std::nullopt;
  }
  return std::string_view(static_cast<const char*>(value), size);
}

std::string KafkaRecord::location() const {
  return fmt::format("topic {} partition {} offset {}", topic, partition, offset);
}

InputError KafkaRecord::error(std::string_view what) const {
  return InputError(location() + ": " + std::string(what));
}

KafkaRecord record_view(std::string_view topic, rd_kafka_message_t* message) {
  KafkaRecord record{topic, message->partition,        message->offset,      std::nullopt, {},
                     -1,    KafkaTimestampType::kNone, KafkaHeaders(message)};
  if (message->key != nullptr) {
    record.key = std::string_view(static_cast<const char*>(message->key), message->key_len);
  }
  if (message->payload != nullptr) {
    record.value = std::string_view(static_cast<const char*>(message->payload), message->len);
  }
  rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  record.timestamp = rd_kafka_message_timestamp(message, &type);
  record.timestamp_type = type == RD_KAFKA_TIMESTAMP_CREATE_TIME ? KafkaTimestampType::kCreateTime
                          : type == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME
                              ? KafkaTimestampType::kLogAppendTime
                              : KafkaTimestampType::kNone;
  return record;
}

}  // namespace sluice::kafka
