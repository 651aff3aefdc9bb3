// The baseline of the Kafka pass-through benchmark: a bare librdkafka loop
// that consumes every partition of one topic from the beginning up to its
// end at start and produces each message, key and value, to another topic.
// What a Sluice job reading and writing Kafka is compared against.
//
//   kafka_loop BOOTSTRAP FROM_TOPIC TO_TOPIC
//
// Prints one JSON line: records, seconds, records per second.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include <librdkafka/rdkafka.h>

namespace {

rd_kafka_t* client(rd_kafka_type_t type, const std::map<std::string, std::string>& settings) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  for (const auto& [name, value] : settings) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof(error)) !=
        RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "kafka_loop: %s\n", error);
      std::exit(2);
    }
  }
  rd_kafka_t* handle = rd_kafka_new(type, conf, error, sizeof(error));
  if (handle == nullptr) {
    std::fprintf(stderr, "kafka_loop: %s\n", error);
    std::exit(1);
  }
  return handle;
}

void produce(rd_kafka_t* producer, const char* topic, const rd_kafka_message_t* m) {
  while (true) {
    rd_kafka_resp_err_t err =
        rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(m->key, m->key_len),
                          RD_KAFKA_V_VALUE(m->payload, m->len),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      std::fprintf(stderr, "kafka_loop: produce: %s\n", rd_kafka_err2str(err));
      std::exit(1);
    }
    rd_kafka_poll(producer, 10);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: kafka_loop BOOTSTRAP FROM_TOPIC TO_TOPIC\n");
    return 2;
  }
  std::string bootstrap = argv[1];
  const char* from = argv[2];
  const char* to = argv[3];
  rd_kafka_t* consumer = client(RD_KAFKA_CONSUMER, {{"bootstrap.servers", bootstrap},
                                                    {"group.id", "kafka-loop"},
                                                    {"enable.auto.commit", "false"},
                                                    {"fetch.wait.max.ms", "10"}});
  rd_kafka_t* producer =
      client(RD_KAFKA_PRODUCER, {{"bootstrap.servers", bootstrap}, {"linger.ms", "5"}});

  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_topic_t* topic = rd_kafka_topic_new(consumer, from, nullptr);
  if (rd_kafka_metadata(consumer, 0, topic, &metadata, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      metadata->topic_cnt != 1) {
    std::fprintf(stderr, "kafka_loop: no metadata for %s\n", from);
    return 1;
  }
  auto started = std::chrono::steady_clock::now();
  rd_kafka_topic_partition_list_t* partitions = rd_kafka_topic_partition_list_new(8);
  std::map<int32_t, int64_t> ends;
  for (int i = 0; i < metadata->topics[0].partition_cnt; ++i) {
    int32_t p = metadata->topics[0].partitions[i].id;
    int64_t low = 0, high = 0;
    rd_kafka_query_watermark_offsets(consumer, from, p, &low, &high, 10000);
    if (high > low) ends[p] = high;
    rd_kafka_topic_partition_list_add(partitions, from, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_metadata_destroy(metadata);
  rd_kafka_topic_destroy(topic);
  rd_kafka_assign(consumer, partitions);
  rd_kafka_topic_partition_list_destroy(partitions);

  uint64_t records = 0;
  while (!ends.empty()) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      produce(producer, to, m);
      ++records;
      auto end = ends.find(m->partition);
      if (end != ends.end() && m->offset + 1 >= end->second) ends.erase(end);
      rd_kafka_poll(producer, 0);
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_flush(producer, 60000);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf(
      "{\"bench\":\"kafka-bare-loop\",\"records\":%llu,\"seconds\":%.3f,\"records_per_second\":%."
      "0f}\n",
      static_cast<unsigned long long>(records), seconds, static_cast<double>(records) / seconds);
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  rd_kafka_destroy(producer);
  return 0;
}
