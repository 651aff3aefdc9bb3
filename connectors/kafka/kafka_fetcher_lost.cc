// A partition position that retention deleted before it was read: the
// consumer runs with auto.offset.reset=error, so librdkafka reports it
// instead of jumping silently, and the reader fails the job (naming the
// lost offsets) or skips them and counts every skipped record.
#include <fmt/format.h>

#include "connectors/kafka/kafka_fetcher.h"
#include "runtime/core/logging.h"

namespace sluice::kafka {
namespace {

const char* reset_name(OffsetReset reset) {
  return reset == OffsetReset::kEarliest ? "earliest" : "latest";
}

}  // namespace

void KafkaFetcher::on_lost_offsets(OwnedPartition& p) {
  const std::string& topic_name = topic(p.topic_index);
  int64_t low = 0;
  int64_t high = 0;
  rd_kafka_resp_err_t error =
      rd_kafka_query_watermark_offsets(client_.get(), topic_name.c_str(), p.partition, &low, &high,
                                       static_cast<int>(options_.start_timeout));
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw ExternalError(fmt::format(
        "{}: topic {} partition {}: offset {} is out of range, and the range cannot be looked "
        "up: {}",
        name_, topic_name, p.partition, p.next_offset, error_text(error)));
  }
  if (p.next_offset < 0) {
    // A symbolic position librdkafka could not resolve, such as the
    // group's offset when the group has none: nothing was lost; it starts
    // where resolve_position() would put it.
    move_to(p, p.next_offset == RD_KAFKA_OFFSET_END ? high : low);
    return;
  }
  // Records before the oldest still there are gone; a position past the
  // end (the partition was recreated) has lost nothing readable.
  std::string lost = p.next_offset < low
                         ? fmt::format("offsets {} to {} were deleted before they were read",
                                       p.next_offset, low - 1)
                         : fmt::format("it is past the partition's end at {}", high);
  if (options_.offset_reset == OffsetReset::kFail) {
    throw InputError(fmt::format(
        "{}: topic {} partition {}: offset {} is no longer on the broker, which holds offsets {} "
        "to {}: {}; set kafka.offset-reset=earliest or latest to skip them",
        name_, topic_name, p.partition, p.next_offset, low, high - 1, lost));
  }
  int64_t target = options_.offset_reset == OffsetReset::kEarliest ? low : high;
  if (p.stop_offset >= 0) target = std::min(target, p.stop_offset);
  uint64_t skipped = p.next_offset < target ? static_cast<uint64_t>(target - p.next_offset) : 0;
  std::string note = fmt::format(
      "{}: topic {} partition {}: skipped {} records from offset {} (kafka.offset-reset={}): {}",
      name_, topic_name, p.partition, skipped, p.next_offset, reset_name(options_.offset_reset),
      lost);
  log::connectors()->warn("{}: {}", task_name_, note);
  if (metrics_ != nullptr) {
    metrics_->skipped_records.add(skipped);
    metrics_->add_note(std::move(note));
  }
  move_to(p, target);
}

void KafkaFetcher::move_to(OwnedPartition& p, int64_t target) {
  const std::string& topic_name = topic(p.topic_index);
  p.next_offset = target;
  p.fetched.clear();
  // After the error the partition's fetcher is stopped: assign it again at
  // the new position (a seek is refused in that state).
  TopicPartitionList list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), topic_name.c_str(), p.partition)->offset = target;
  for (auto step : {rd_kafka_incremental_unassign, rd_kafka_incremental_assign}) {
    if (rd_kafka_error_t* failed = step(client_.get(), list.get())) {
      std::string why = rd_kafka_error_string(failed);
      rd_kafka_error_destroy(failed);
      throw ExternalError(fmt::format("{}: topic {} partition {}: cannot move to offset {}: {}",
                                      name_, topic_name, p.partition, target, why));
    }
  }
}

}  // namespace sluice::kafka
