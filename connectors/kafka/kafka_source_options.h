// The Kafka source's plan-side types (connectors/kafka/kafka_source.h): its
// options, the record view its deserializer gets, and the rules that give
// every partition a split index and an owning subtask.
//
// Threading: options are immutable values shared by all subtasks. A
// KafkaRecord is a view into one fetched message, valid only during the
// deserializer call, on the reader's task thread. The functions are pure and
// safe from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "connectors/file_source_support.h"
#include "connectors/kafka/kafka_client.h"
#include "runtime/core/codec.h"
#include "runtime/core/errors.h"
#include "runtime/core/time.h"
#include "runtime/core/versioned.h"

namespace sluice::kafka {

// Where a partition starts when the job does not restore it from a checkpoint.
enum class StartFrom {
  kEarliest,   // the partition's first retained record (the default)
  kLatest,     // the partition's end when the reader opens: only newer records
  kGroup,      // the consumer group's committed offset; earliest when it has none
  kOffsets,    // KafkaSourceOptions::start_offsets; earliest for partitions not listed
  kTimestamp,  // the first record at or after start_timestamp (offsets_for_times)
};

// Where the source ends.
enum class StopAt {
  kNever,   // unbounded: reads until cancelled (the default)
  kLatest,  // bounded: each partition ends at its end (high watermark) when the reader opened
};

// What a reader does when its position is no longer on the broker
// (retention deleted the records before they were read).
enum class OffsetReset {
  kFail,      // fail the job, naming topic, partition and the lost offsets (the default)
  kEarliest,  // skip to the oldest record still there; the skipped ones are counted
  kLatest,    // skip to the end; the skipped ones are counted
};

// A partition of a topic, by name.
struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  auto operator<=>(const TopicPartition&) const = default;
};

struct KafkaSourceOptions {
  // Names the source in log lines and error messages ("kafka source 'NAME'").
  // Default (empty): the topics, comma-separated.
  std::string name;
  // The topics to read, at least one. Partitions of all of them are dealt to
  // the subtasks together.
  std::vector<std::string> topics;
  // librdkafka consumer settings, passed through verbatim (bootstrap.servers,
  // security.protocol, sasl.*, ssl.*, fetch.wait.max.ms, ...).
  // bootstrap.servers is required. When not given: group.id is
  // "sluice-<first topic>" (librdkafka needs one even without group
  // membership), enable.auto.commit and enable.auto.offset.store are false.
  // auto.offset.reset is always "error" (see offset_reset) and must not be
  // given. enable.partition.eof is always true: the reader needs
  // end-of-partition events to see past transaction markers.
  Properties properties;
  // Where partitions without a checkpointed position start. Default earliest.
  StartFrom start = StartFrom::kEarliest;
  // For kOffsets: the next offset to read per partition.
  std::map<TopicPartition, int64_t> start_offsets;
  // For kTimestamp: milliseconds since the epoch.
  Timestamp start_timestamp = 0;
  // Unbounded (default) or bounded at the partitions' ends at open.
  StopAt stop = StopAt::kNever;
  // How often a reader re-reads the topics' metadata and takes on new
  // partitions it owns, which start at earliest. 0 disables discovery.
  // Bounded sources never discover. Default 5 minutes.
  DurationMs partition_discovery_interval = 300'000;
  // How long open() keeps retrying (with backoff) to reach the brokers and
  // look up start offsets before it fails the job. Default 30 s.
  DurationMs start_timeout = 30'000;
  // Timeout of one metadata request during discovery; the task thread waits
  // that long at most when the brokers are unreachable. Default 1 s.
  DurationMs discovery_timeout = 1'000;
  // How long a reader with nothing fetched lets its task wait before asking
  // librdkafka again. Default 5 ms.
  DurationMs poll_interval = 5;
  // Malformed records (the deserializer threw InputError) fail the job
  // (default) or are skipped and counted.
  OnError on_error = OnError::kFail;
  // A position that retention deleted: fail (default) or skip and count.
  // librdkafka's own auto.offset.reset must not be set: the reader sets it
  // to "error" so that no reset happens unnoticed.
  OffsetReset offset_reset = OffsetReset::kFail;
  // When a checkpoint completes, commit the positions of the latest
  // checkpoint the reader took part in to the consumer group (asynchronously),
  // so that lag monitors see progress. Never read back for recovery, which
  // uses the checkpoint. Default false.
  bool commit_offsets_on_checkpoint = false;
  // Malformed records go to this topic (with "sluice.error" and
  // "sluice.origin" headers) and are counted, whatever on_error says.
  // Empty (the default): none.
  std::string dead_letter_topic;
  // Throttle: records per second over all subtasks (each keeps to rate /
  // parallelism). 0 (the default): as fast as downstream takes them.
  double rate = 0;
};

// Throws UsageError for no topics, an empty or duplicate topic name, no
// bootstrap.servers, more topics than split indices allow, negative offsets
// or intervals, or a timeout of 0.
void validate_kafka_source_options(const KafkaSourceOptions& options);

// "earliest", "latest", "group", "timestamp"; "offsets" needs a map and is
// set in code. Anything else throws UsageError.
StartFrom parse_start_from(std::string_view text);
// "never" or "latest"; anything else throws UsageError.
StopAt parse_stop_at(std::string_view text);
// "fail", "earliest", "latest"; anything else throws UsageError.
OffsetReset parse_offset_reset(std::string_view text);

// The name a source goes by in messages: options.name or the topics.
std::string source_name(const KafkaSourceOptions& options);

// ---------------------------------------------------------------------------
// Splits and assignment.

// Split indices: partition p of the topic at index t of options.topics is
// split t * kPartitionsPerTopic + p. Stable while the topic list keeps its
// order, unique across topics, and readable in logs (split 2000005 is
// partition 5 of the third topic). Checkpoints key positions by topic name
// and partition, never by this index, so reordering topics is safe.
inline constexpr int32_t kPartitionsPerTopic = 1'000'000;
inline constexpr int kMaxTopics = 2'000;

int split_index(int topic_index, int32_t partition);

// The subtask that reads partition `partition` of `topic`:
// (hash(topic) % parallelism + partition) % parallelism, with the stable
// hash of runtime/core/hash.h. A topic's partitions go round-robin from a
// start that depends on its name, so several small topics do not all pile
// onto subtask 0. Deterministic: no consumer-group rebalancing is involved.
int owner_of(const std::string& topic, int32_t partition, int parallelism);

// A partition's position as a checkpoint stores it (SplitPosition::position).
struct KafkaPartitionPosition {
  static constexpr PersistedFormat kFormat{"kafka partition position", 1};
  std::string topic;
  int32_t partition = 0;
  // The next offset to read; RD_KAFKA_OFFSET_BEGINNING (-2) for a partition
  // discovered at run time that has not been read yet.
  int64_t next_offset = 0;
  // Bounded sources: the offset the partition ends at (it is finished once
  // next_offset reaches it); -1 when unbounded.
  int64_t stop_offset = -1;
  SLUICE_FIELDS(topic, partition, next_offset, stop_offset)
};

// ---------------------------------------------------------------------------
// Records.

enum class KafkaTimestampType {
  kNone,           // the record has no timestamp (timestamp is -1)
  kCreateTime,     // set by the producer
  kLogAppendTime,  // set by the broker
};

struct KafkaHeader {
  std::string_view name;
  std::optional<std::string_view> value;  // nullopt for a null value
};

// A fetched record's headers, parsed by librdkafka on first use only.
class KafkaHeaders {
 public:
  explicit KafkaHeaders(rd_kafka_message_t* message) : message_(message) {}
  size_t size() const;
  // Header `i` in record order; i < size().
  KafkaHeader at(size_t i) const;
  // The value of the last header called `name`; nullopt when there is none
  // (or its value is null).
  std::optional<std::string_view> last(std::string_view name) const;

 private:
  const rd_kafka_headers_t* parsed() const;
  rd_kafka_message_t* message_;
};

// What a deserializer sees of one record. Views into the fetched message:
// copy what must outlive the call.
struct KafkaRecord {
  std::string_view topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::optional<std::string_view> key;  // nullopt for a null key
  std::string_view value;               // empty for a null value (a tombstone)
  Timestamp timestamp = -1;             // milliseconds since the epoch
  KafkaTimestampType timestamp_type = KafkaTimestampType::kNone;
  KafkaHeaders headers;

  // "topic T partition P offset O", for messages.
  std::string location() const;
  // InputError "topic T partition P offset O: WHAT", for a deserializer to throw.
  InputError error(std::string_view what) const;
};

// The view of `message` (a record, err == 0) of `topic`.
KafkaRecord record_view(std::string_view topic, rd_kafka_message_t* message);

}  // namespace sluice::kafka
