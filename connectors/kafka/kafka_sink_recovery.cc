// The exactly-once Kafka sink's recovery after a restore: fence the old
// transactional.ids, read the commit markers, publish again every epoch
// whose marker is missing (see kafka_sink.h for why this is sound).
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <set>

#include <fmt/format.h>

#include "connectors/kafka/kafka_sink.h"
#include "connectors/kafka/kafka_sink_state.h"
#include "runtime/core/errors.h"
#include "runtime/core/fault_injection.h"
#include "runtime/core/logging.h"

namespace sluice::kafka {

void KafkaSinkCore::recover(const std::vector<std::string>& prepared) {
  if (options_.guarantee != KafkaGuarantee::kExactlyOnce) return;
  // The old subtasks this one answers for: j % parallelism == subtask.
  std::vector<KafkaSinkState> mine;
  for (size_t j = 0; j < prepared.size(); ++j) {
    if (static_cast<int>(j % parallelism_) != subtask_ || prepared[j].empty()) continue;
    try {
      mine.push_back(decode_versioned<KafkaSinkState>(KafkaSinkState::kFormat, prepared[j]));
    } catch (const InputError& e) {
      throw InputError(fmt::format("{}: checkpoint state of subtask {}: {}", what_, j, e.what()));
    }
  }
  if (mine.empty()) return;

  // 1. Fence: init_transactions on every id of the old pools aborts what the
  //    failed run left open; afterwards none of its transactions can commit.
  std::map<std::pair<int32_t, int32_t>, std::unique_ptr<SinkProducer>> fenced;
  for (const KafkaSinkState& state : mine) {
    for (int32_t slot = 0; slot < state.pool_size; ++slot) {
      auto producer = std::make_unique<SinkProducer>(
          options_.properties, options_.topic,
          transactional_id_of(options_.transactional_id_prefix, state.subtask, slot), what_,
          options_.operation_timeout_ms);
      producer->init_transactions(options_.startup_timeout_ms);
      ++recovery_.fenced_ids;
      fenced[{state.subtask, slot}] = std::move(producer);
    }
  }

  // 2. Which epochs committed: the markers, read with read_committed.
  std::vector<std::string> keys;
  for (const KafkaSinkState& state : mine) {
    keys.push_back(marker_key_of(options_.transactional_id_prefix, state.subtask, state.run_token));
  }
  std::map<std::string, int64_t> committed = read_markers(keys);

  // 3. Publish again, oldest first, every epoch without a marker.
  for (const KafkaSinkState& state : mine) {
    std::string key =
        marker_key_of(options_.transactional_id_prefix, state.subtask, state.run_token);
    auto found = committed.find(key);
    int64_t last = found == committed.end() ? -1 : found->second;
    if (last < state.last_committed) {
      // A marker the checkpoint knows was written is not there: the topic
      // was deleted, compacted away or cannot be read. Publishing again
      // would duplicate what was committed.
      throw ExternalError(fmt::format(
          "{}: marker topic {} shows {} for key {}, but epoch {} was committed before the "
          "checkpoint: the commit markers cannot be seen, so nothing is published again",
          what_, marker_topic_, last < 0 ? "no marker" : "markers up to " + std::to_string(last),
          key, state.last_committed));
    }
    for (const PreparedEpoch& epoch : state.epochs) {
      if (epoch.checkpoint <= last) {
        ++recovery_.committed_epochs;
        log::connectors()->info("{}: epoch {} of subtask {} was committed", what_, epoch.checkpoint,
                                state.subtask);
        continue;
      }
      auto producer = fenced.find({state.subtask, epoch.slot});
      if (producer == fenced.end()) {
        throw InputError(
            fmt::format("{}: checkpoint state of subtask {} names slot {} outside "
                        "its pool of {}",
                        what_, state.subtask, epoch.slot, state.pool_size));
      }
      republish(*producer->second, key, epoch.checkpoint, epoch.output);
      SLUICE_FAULT_POINT("kafka-sink.epoch-republished");
      log::connectors()->info(
          "{}: epoch {} of subtask {} was not committed: published again "
          "({} messages)",
          what_, epoch.checkpoint, state.subtask, epoch.output.size());
    }
  }
}

void KafkaSinkCore::republish(SinkProducer& producer, const std::string& marker_key,
                              int64_t checkpoint_id, const EpochOutput& output) {
  producer.begin_transaction();
  KafkaOutMessage scratch;
  output.for_each(scratch, [&](const KafkaOutMessage& message) {
    rd_kafka_resp_err_t error = producer.produce(message);
    if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
      producer.abort_transaction();
      throw ExternalError(fmt::format("{}: publishing epoch {} again: {}", what_, checkpoint_id,
                                      error_text(error)));
    }
    producer.poll();
  });
  producer.produce_marker(marker_topic_, 0, marker_key, std::to_string(checkpoint_id));
  producer.commit_transaction();
  ++recovery_.republished_epochs;
  recovery_.republished_messages += output.size();
}

std::map<std::string, int64_t> KafkaSinkCore::read_markers(const std::vector<std::string>& keys) {
  std::map<std::string, int64_t> found;
  // The producer's settings minus the producer-only ones (librdkafka warns
  // about each), plus what a marker reader needs.
  static const std::set<std::string> kProducerOnly = {"acks",
                                                      "batch.num.messages",
                                                      "batch.size",
                                                      "compression.codec",
                                                      "compression.type",
                                                      "delivery.timeout.ms",
                                                      "enable.idempotence",
                                                      "linger.ms",
                                                      "message.send.max.retries",
                                                      "message.timeout.ms",
                                                      "partitioner",
                                                      "queue.buffering.max.kbytes",
                                                      "queue.buffering.max.messages",
                                                      "queue.buffering.max.ms",
                                                      "request.required.acks",
                                                      "retries",
                                                      "transaction.timeout.ms"};
  Properties settings;
  for (const auto& [name, value] : options_.properties) {
    if (!kProducerOnly.contains(name)) settings[name] = value;
  }
  settings["group.id"] = options_.transactional_id_prefix + ".sluice-recovery";
  settings["isolation.level"] = "read_committed";
  settings["enable.auto.commit"] = "false";
  settings["enable.partition.eof"] = "true";
  settings["fetch.wait.max.ms"] = "10";
  KafkaHandle consumer = make_client(RD_KAFKA_CONSUMER, settings, what_ + " (marker reader)");
  int timeout = static_cast<int>(options_.recovery_timeout_ms);
  int64_t low = 0;
  int64_t high = 0;
  rd_kafka_resp_err_t error = rd_kafka_query_watermark_offsets(
      consumer.get(), marker_topic_.c_str(), 0, &low, &high, timeout);
  if (error == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
      error == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC || error == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION) {
    return found;  // no marker yet
  }
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw ExternalError(fmt::format("{}: cannot read the end of marker topic {}: {}", what_,
                                    marker_topic_, error_text(error)));
  }
  if (high <= low) return found;

  TopicPartitionList assignment(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(assignment.get(), marker_topic_.c_str(), 0)->offset = low;
  error = rd_kafka_assign(consumer.get(), assignment.get());
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw ExternalError(fmt::format("{}: cannot read marker topic {}: {}", what_, marker_topic_,
                                    error_text(error)));
  }
  std::set<std::string_view> wanted(keys.begin(), keys.end());
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.recovery_timeout_ms);
  // Done at the end offset seen after fencing: with read_committed the
  // consumer only gets there once every earlier transaction is resolved.
  bool done = false;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    KafkaMessage message(rd_kafka_consumer_poll(consumer.get(), 100));
    if (!message) continue;
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      done = message->offset >= high;
      continue;
    }
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      log::connectors()->warn("{}: reading marker topic {}: {}", what_, marker_topic_,
                              rd_kafka_message_errstr(message.get()));
      continue;
    }
    done = message->offset + 1 >= high;
    std::string_view key(static_cast<const char*>(message->key), message->key_len);
    if (message->key == nullptr || !wanted.contains(key)) continue;
    std::string value(static_cast<const char*>(message->payload), message->len);
    char* end = nullptr;
    int64_t id = std::strtoll(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0') {
      log::connectors()->warn("{}: ignoring malformed marker '{}' at offset {}", what_, value,
                              message->offset);
      continue;
    }
    auto [it, inserted] = found.emplace(std::string(key), id);
    if (!inserted) it->second = std::max(it->second, id);
  }
  rd_kafka_consumer_close(consumer.get());
  if (!done) {
    throw ExternalError(fmt::format(
        "{}: marker topic {} partition 0 not read up to offset {} within {} ms (a transaction "
        "still open there?)",
        what_, marker_topic_, high, options_.recovery_timeout_ms));
  }
  return found;
}

}  // namespace sluice::kafka
