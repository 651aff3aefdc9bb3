// A Kafka source subtask's consumer lag, per partition: how many records
// it is behind the partition's high watermark, registered in the job's
// metric registry as kafka_consumer_lag{task, topic, partition}. The high
// watermark is librdkafka's, cached from its fetch responses (no request
// to the broker), read at most once a second; a partition whose watermark
// is not known yet shows no lag.
//
// Threading: update() and detach() on the source's task thread; the
// registry reads the gauges from any thread. Lifecycle: attach -> update*
// -> detach (or destroy), before the client goes.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "connectors/kafka/kafka_fetcher.h"
#include "runtime/core/time.h"
#include "runtime/metrics/probe.h"

namespace sluice::kafka {

class KafkaLagProbe {
 public:
  KafkaLagProbe() = default;
  KafkaLagProbe(const KafkaLagProbe&) = delete;
  KafkaLagProbe& operator=(const KafkaLagProbe&) = delete;
  ~KafkaLagProbe() { detach(); }

  void attach(MetricRegistry& registry, std::string task);
  // Reads each owned partition's high watermark and position, once a second.
  void update(rd_kafka_t* client, const std::vector<std::string>& topics,
              const std::deque<OwnedPartition>& partitions, Timestamp now);
  void detach();

 private:
  Gauge& gauge_for(const std::string& topic, int32_t partition);

  MetricRegistry* registry_ = nullptr;
  std::string task_;
  std::map<std::pair<std::string, int32_t>, std::unique_ptr<Gauge>> lag_;
  Timestamp next_update_ = kMinTimestamp;
};

}  // namespace sluice::kafka
