#include "connectors/kafka/kafka_lag_probe.h"

namespace sluice::kafka {
namespace {

constexpr DurationMs kUpdateInterval = 1000;

}  // namespace

void KafkaLagProbe::attach(MetricRegistry& registry, std::string task) {
  detach();
  registry_ = &registry;
  task_ = std::move(task);
}

void KafkaLagProbe::detach() {
  if (registry_ != nullptr) registry_->remove(this);
  registry_ = nullptr;
  lag_.clear();
}

Gauge& KafkaLagProbe::gauge_for(const std::string& topic, int32_t partition) {
  auto& gauge = lag_[{topic, partition}];
  if (!gauge) {
    gauge = std::make_unique<Gauge>();
    registry_->add(this, "kafka_consumer_lag", "records behind the partition's high watermark",
                   *gauge,
                   {{"task", task_}, {"topic", topic}, {"partition", std::to_string(partition)}});
  }
  return *gauge;
}

void KafkaLagProbe::update(rd_kafka_t* client, const std::vector<std::string>& topics,
                           const std::deque<OwnedPartition>& partitions, Timestamp now) {
  if (registry_ == nullptr || client == nullptr || now < next_update_) return;
  next_update_ = now + kUpdateInterval;
  for (const OwnedPartition& p : partitions) {
    const std::string& topic = topics.at(static_cast<size_t>(p.topic_index));
    int64_t low = RD_KAFKA_OFFSET_INVALID;
    int64_t high = RD_KAFKA_OFFSET_INVALID;
    if (rd_kafka_get_watermark_offsets(client, topic.c_str(), p.partition, &low, &high) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        high < 0) {
      continue;
    }
    // Before its first record a position may be symbolic: count from the low end.
    int64_t position = p.next_offset >= 0 ? p.next_offset : std::max<int64_t>(low, 0);
    gauge_for(topic, p.partition).set(std::max<int64_t>(0, high - position));
  }
}

}  // namespace sluice::kafka
