// KafkaFetcher's start: metadata and start/stop offsets, each retried with
// backoff until start_timeout (see kafka_fetcher.h); and the lookups of a
// micro-batch plan, tried once each.
#include <algorithm>
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "connectors/kafka/kafka_fetcher.h"
#include "runtime/core/logging.h"

namespace sluice::kafka {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr int kMaxAttemptMs = 5'000;
constexpr auto kFirstBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::milliseconds(2'000);

int remaining_ms(SteadyClock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 1, kMaxAttemptMs));
}

struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* metadata) const {
    rd_kafka_metadata_destroy(metadata);
  }
};

}  // namespace

// Calls `attempt(timeout_ms)`, which returns "" on success or why it failed,
// until it succeeds or start_timeout passed; then throws ExternalError
// "NAME: WHAT: WHY".
template <class Attempt>
void KafkaFetcher::retry_until_deadline(const std::string& what, Attempt attempt) {
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(options_.start_timeout);
  auto backoff = std::chrono::duration_cast<SteadyClock::duration>(kFirstBackoff);
  for (int tries = 1;; ++tries) {
    std::string error = attempt(remaining_ms(deadline));
    if (error.empty()) return;
    if (SteadyClock::now() + backoff >= deadline) {
      throw ExternalError(fmt::format("{}: {}: {} (gave up after {} attempts in {} ms)", name_,
                                      what, error, tries, options_.start_timeout));
    }
    log::connectors()->warn("{}: {}: {}: {}; retrying", task_name_, name_, what, error);
    std::this_thread::sleep_for(backoff);  // startup backoff; the task has nothing else to do
    backoff = std::min<SteadyClock::duration>(backoff * 2, kMaxBackoff);
  }
}

// The topic's partition count; 0 when the brokers do not know it; nullopt
// with `error` set when the request failed.
std::optional<int> KafkaFetcher::partition_count(int topic_index, int timeout_ms,
                                                 std::string& error) {
  const rd_kafka_metadata_t* raw = nullptr;
  rd_kafka_resp_err_t result =
      rd_kafka_metadata(client_.get(), 0, topic_handles_[topic_index], &raw, timeout_ms);
  if (result != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error = error_text(result);
    return std::nullopt;
  }
  std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter> metadata(raw);
  if (metadata->topic_cnt != 1) {
    error = fmt::format("metadata of {} topics for one", metadata->topic_cnt);
    return std::nullopt;
  }
  const rd_kafka_metadata_topic_t& topic = metadata->topics[0];
  if (topic.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) return 0;
  if (topic.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error = fmt::format("topic '{}': {}", topic.topic, error_text(topic.err));
    return std::nullopt;
  }
  return topic.partition_cnt;
}

std::string KafkaFetcher::try_read_metadata(int timeout_ms, std::vector<int>& counts) {
  counts.clear();
  for (size_t t = 0; t < options_.topics.size(); ++t) {
    std::string error;
    std::optional<int> count = partition_count(static_cast<int>(t), timeout_ms, error);
    if (!count) return error;
    counts.push_back(*count);
  }
  return "";
}

void KafkaFetcher::read_start_metadata() {
  std::vector<int> counts;
  retry_until_deadline(
      "cannot reach bootstrap servers " + options_.properties.at("bootstrap.servers"),
      [&](int timeout_ms) { return try_read_metadata(timeout_ms, counts); });
  for (size_t t = 0; t < counts.size(); ++t) {
    if (counts[t] == 0) {
      log::connectors()->warn("{}: {}: topic '{}' does not exist{}", task_name_, name_,
                              options_.topics[t],
                              bounded_ ? "; nothing to read from it"
                                       : "; its partitions are read once discovery finds them");
    }
    take_partitions(static_cast<int>(t), 0, counts[t], RD_KAFKA_OFFSET_BEGINNING);
    known_partitions_[t] = counts[t];
  }
}

void KafkaFetcher::resolve_offsets() {
  if (partitions_.empty()) return;
  retry_until_deadline("cannot look up the partitions' offsets",
                       [&](int timeout_ms) { return try_resolve_offsets(timeout_ms); });
  if (options_.start == StartFrom::kGroup) {
    retry_until_deadline("cannot read the group's committed offsets",
                         [&](int timeout_ms) { return try_committed_offsets(timeout_ms); });
  }
  if (options_.start == StartFrom::kTimestamp)
    timestamp_offsets(
        remaining_ms(SteadyClock::now() + std::chrono::milliseconds(options_.start_timeout)));
}

// Low and high watermarks of every owned partition: the start for earliest,
// latest, offsets and group fallback; the stop when bounded.
std::string KafkaFetcher::try_resolve_offsets(int timeout_ms) {
  for (OwnedPartition& p : partitions_) {
    int64_t low = 0;
    int64_t high = 0;
    rd_kafka_resp_err_t result = rd_kafka_query_watermark_offsets(
        client_.get(), topic(p.topic_index).c_str(), p.partition, &low, &high, timeout_ms);
    if (result != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return fmt::format("topic {} partition {}: {}", topic(p.topic_index), p.partition,
                         error_text(result));
    }
    p.next_offset = low;
    if (options_.start == StartFrom::kLatest) p.next_offset = high;
    if (options_.start == StartFrom::kOffsets) {
      auto given = options_.start_offsets.find({topic(p.topic_index), p.partition});
      if (given != options_.start_offsets.end()) p.next_offset = given->second;
    }
    if (bounded_) p.stop_offset = high;
    log::connectors()->debug("{}: {}: topic {} partition {} (split {}): offsets {}..{}, start {}",
                             task_name_, name_, topic(p.topic_index), p.partition, p.split, low,
                             high, p.next_offset);
  }
  return "";
}

std::string KafkaFetcher::try_committed_offsets(int timeout_ms) {
  TopicPartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions_.size())));
  for (const OwnedPartition& p : partitions_) {
    rd_kafka_topic_partition_list_add(list.get(), topic(p.topic_index).c_str(), p.partition);
  }
  rd_kafka_resp_err_t result = rd_kafka_committed(client_.get(), list.get(), timeout_ms);
  if (result != RD_KAFKA_RESP_ERR_NO_ERROR) return error_text(result);
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& entry = list->elems[i];
    if (entry.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return fmt::format("topic {} partition {}: {}", entry.topic, entry.partition,
                         error_text(entry.err));
    }
    // No committed offset: earliest, as already resolved.
    if (entry.offset >= 0) partitions_[i].next_offset = entry.offset;
  }
  return "";
}

// offsets_for_times is not retried: a broker that answers with an error
// (librdkafka's mock cluster does not implement it) will not change its mind.
void KafkaFetcher::timestamp_offsets(int timeout_ms) {
  TopicPartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions_.size())));
  for (const OwnedPartition& p : partitions_) {
    rd_kafka_topic_partition_list_add(list.get(), topic(p.topic_index).c_str(), p.partition)
        ->offset = options_.start_timestamp;
  }
  auto fail = [&](const std::string& why) {
    throw ExternalError(
        fmt::format("{}: cannot find the offsets for start timestamp {} "
                    "(offsets_for_times): {}",
                    name_, options_.start_timestamp, why));
  };
  rd_kafka_resp_err_t result = rd_kafka_offsets_for_times(client_.get(), list.get(), timeout_ms);
  if (result != RD_KAFKA_RESP_ERR_NO_ERROR) fail(error_text(result));
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& entry = list->elems[i];
    if (entry.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      fail(fmt::format("topic {} partition {}: {}", entry.topic, entry.partition,
                       error_text(entry.err)));
    }
    // -1: no record at or after the timestamp; start at the end, as resolved
    // for latest (the high watermark is the stop when bounded).
    if (entry.offset >= 0) {
      partitions_[i].next_offset = entry.offset;
    } else {
      int64_t low = 0;
      int64_t high = 0;
      rd_kafka_resp_err_t watermarks = rd_kafka_query_watermark_offsets(
          client_.get(), entry.topic, entry.partition, &low, &high, timeout_ms);
      if (watermarks != RD_KAFKA_RESP_ERR_NO_ERROR) fail(error_text(watermarks));
      partitions_[i].next_offset = high;
    }
  }
}

// ---------------------------------------------------------------------------
// Micro-batch planning: one attempt each; the planner fails the batch.

int KafkaFetcher::plan_lookup_timeout_ms() const {
  return static_cast<int>(std::clamp<DurationMs>(options_.start_timeout, 1, kMaxPlanLookupMs));
}

// ListOffsets with the timestamps "earliest" and "latest" gives the
// watermarks (the high one is the last stable offset under read_committed,
// as the consumer reads). rd_kafka_query_watermark_offsets would too, but in
// librdkafka 2.0 it waits past its timeout while the leader is unreachable;
// offsets_for_times keeps to it, and asks for all partitions at once.
std::vector<KafkaFetcher::Watermarks> KafkaFetcher::query_watermarks(
    const std::vector<OwnedPartition*>& partitions) {
  std::vector<Watermarks> watermarks(partitions.size());
  if (partitions.empty()) return watermarks;
  for (int64_t which : {RD_KAFKA_OFFSET_BEGINNING, RD_KAFKA_OFFSET_END}) {
    TopicPartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
    for (const OwnedPartition* p : partitions) {
      rd_kafka_topic_partition_list_add(list.get(), topic(p->topic_index).c_str(), p->partition)
          ->offset = which;
    }
    rd_kafka_resp_err_t result =
        rd_kafka_offsets_for_times(client_.get(), list.get(), plan_lookup_timeout_ms());
    for (int i = 0; i < list->cnt; ++i) {
      const rd_kafka_topic_partition_t& entry = list->elems[i];
      rd_kafka_resp_err_t error = result != RD_KAFKA_RESP_ERR_NO_ERROR ? result : entry.err;
      if (error != RD_KAFKA_RESP_ERR_NO_ERROR || entry.offset < 0) {
        throw ExternalError(
            fmt::format("{}: cannot look up the offsets of topic {} partition {}: {}", name_,
                        entry.topic, entry.partition,
                        error != RD_KAFKA_RESP_ERR_NO_ERROR
                            ? error_text(error)
                            : fmt::format("no answer within {} ms", plan_lookup_timeout_ms())));
      }
      (which == RD_KAFKA_OFFSET_BEGINNING ? watermarks[i].low : watermarks[i].high) = entry.offset;
    }
  }
  return watermarks;
}

// The offset a symbolic position stands for. Once the consumer fetched
// from it, its first fetched message says; otherwise the watermarks do, as
// auto.offset.reset=earliest would for anything else.
int64_t KafkaFetcher::resolve_position(const OwnedPartition& p, Watermarks watermarks) {
  if (!p.fetched.empty()) return p.fetched.front()->offset;
  if (p.next_offset == RD_KAFKA_OFFSET_END) return watermarks.high;
  if (p.next_offset == RD_KAFKA_OFFSET_STORED) return committed_offset(p, watermarks.low);
  if (p.next_offset <= RD_KAFKA_OFFSET_TAIL_BASE) {
    int64_t tail = RD_KAFKA_OFFSET_TAIL_BASE - p.next_offset;
    return std::max(watermarks.low, watermarks.high - std::min(tail, watermarks.high));
  }
  return watermarks.low;
}

// The consumer group's committed offset of `p`; `fallback` when it has none.
int64_t KafkaFetcher::committed_offset(const OwnedPartition& p, int64_t fallback) {
  TopicPartitionList list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), topic(p.topic_index).c_str(), p.partition);
  rd_kafka_resp_err_t result =
      rd_kafka_committed(client_.get(), list.get(), plan_lookup_timeout_ms());
  if (result == RD_KAFKA_RESP_ERR_NO_ERROR) result = list->elems[0].err;
  if (result != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw ExternalError(
        fmt::format("{}: cannot read the group's committed offset of topic {} partition {}: {}",
                    name_, topic(p.topic_index), p.partition, error_text(result)));
  }
  return list->elems[0].offset >= 0 ? list->elems[0].offset : fallback;
}

}  // namespace sluice::kafka
