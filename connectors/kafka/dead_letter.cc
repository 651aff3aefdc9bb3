#include "connectors/kafka/dead_letter.h"

#include <fmt/format.h>

#include "runtime/core/errors.h"

namespace sluice::kafka {
namespace {

constexpr int kFlushTimeoutMs = 60'000;
constexpr int kQueueFullRetries = 6000;  // of 10 ms each

}  // namespace

DeadLetters::DeadLetters(const Properties& properties, std::string topic, std::string source)
    : topic_(std::move(topic)), source_(std::move(source)) {
  Properties producer = properties;
  producer.erase("group.id");
  producer.erase("enable.auto.commit");
  producer.erase("enable.auto.offset.store");
  producer.erase("auto.offset.reset");
  producer.erase("enable.partition.eof");
  producer.erase("fetch.wait.max.ms");
  producer_ = make_client(
      RD_KAFKA_PRODUCER, producer, source_ + " dead letters",
      [](rd_kafka_conf_t* conf, void* self) {
        rd_kafka_conf_set_opaque(conf, self);
        rd_kafka_conf_set_dr_msg_cb(conf, &DeadLetters::on_delivery);
      },
      this);
}

void DeadLetters::on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto* self = static_cast<DeadLetters*>(opaque);
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR && self->first_failure_.empty()) {
    self->first_failure_ = error_text(message->err);
  }
}

void DeadLetters::send(const KafkaRecord& record, std::string_view error) {
  rd_kafka_headers_t* headers = rd_kafka_headers_new(record.headers.size() + 2);
  for (size_t i = 0; i < record.headers.size(); ++i) {
    KafkaHeader h = record.headers.at(i);
    rd_kafka_header_add(headers, h.name.data(), static_cast<ssize_t>(h.name.size()),
                        h.value ? h.value->data() : nullptr,
                        h.value ? static_cast<ssize_t>(h.value->size()) : 0);
  }
  std::string origin = record.location();
  rd_kafka_header_add(headers, "sluice.error", -1, error.data(),
                      static_cast<ssize_t>(error.size()));
  rd_kafka_header_add(headers, "sluice.origin", -1, origin.data(),
                      static_cast<ssize_t>(origin.size()));
  const char* key = record.key ? record.key->data() : nullptr;
  size_t key_size = record.key ? record.key->size() : 0;
  char* value = const_cast<char*>(record.value.data());  // copied: RD_KAFKA_MSG_F_COPY
  int64_t timestamp = record.timestamp >= 0 ? record.timestamp : 0;
  for (int attempt = 0;; ++attempt) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer_.get(), RD_KAFKA_V_TOPIC(topic_.c_str()), RD_KAFKA_V_KEY(key, key_size),
        RD_KAFKA_V_VALUE(value, record.value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_TIMESTAMP(timestamp), RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;  // librdkafka owns the headers now
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || attempt >= kQueueFullRetries) {
      rd_kafka_headers_destroy(headers);
      throw ExternalError(
          fmt::format("{}: cannot send a dead letter to {}: {}", source_, topic_, error_text(err)));
    }
    rd_kafka_poll(producer_.get(), 10);
  }
  ++sent_;
  rd_kafka_poll(producer_.get(), 0);
}

void DeadLetters::flush() {
  rd_kafka_resp_err_t err = rd_kafka_flush(producer_.get(), kFlushTimeoutMs);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw ExternalError(fmt::format("{}: dead letters to {} not acknowledged: {}", source_, topic_,
                                    error_text(err)));
  }
  if (!first_failure_.empty()) {
    throw ExternalError(
        fmt::format("{}: a dead letter to {} failed: {}", source_, topic_, first_failure_));
  }
}

}  // namespace sluice::kafka
