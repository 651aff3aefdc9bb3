#include "connectors/kafka/kafka_sink_producer.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "runtime/core/errors.h"
#include "runtime/core/logging.h"

namespace sluice::kafka {
namespace {

using SteadyClock = std::chrono::steady_clock;

SteadyClock::time_point deadline_after(DurationMs timeout) {
  return SteadyClock::now() + std::chrono::milliseconds(timeout);
}

int remaining_ms(SteadyClock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

struct ConfigureArgs {
  SinkProducer* producer;
  void (*on_delivery)(rd_kafka_t*, const rd_kafka_message_t*, void*);
  void (*on_error)(rd_kafka_t*, int, const char*, void*);
};

void configure(rd_kafka_conf_t* conf, void* opaque) {
  auto* args = static_cast<ConfigureArgs*>(opaque);
  rd_kafka_conf_set_opaque(conf, args->producer);
  rd_kafka_conf_set_dr_msg_cb(conf, args->on_delivery);
  rd_kafka_conf_set_error_cb(conf, args->on_error);
}

}  // namespace

SinkProducer::SinkProducer(const Properties& properties, const std::string& topic,
                           const std::string& transactional_id, std::string what,
                           DurationMs operation_timeout)
    : what_(std::move(what)),
      transactional_id_(transactional_id),
      operation_timeout_(operation_timeout) {
  Properties settings = properties;
  if (!transactional_id.empty()) settings["transactional.id"] = transactional_id;
  ConfigureArgs args{this, &SinkProducer::on_delivery, &SinkProducer::on_error};
  handle_ = make_client(RD_KAFKA_PRODUCER, settings, what_, configure, &args);
  topic_.reset(rd_kafka_topic_new(handle_.get(), topic.c_str(), nullptr));
  if (!topic_) {
    throw ExternalError(fmt::format("{}: cannot create topic handle: {}", what_,
                                    error_text(rd_kafka_last_error())));
  }
}

void SinkProducer::on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto* self = static_cast<SinkProducer*>(opaque);
  DeliveryStats& stats = self->stats_;
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    ++stats.delivered;
    return;
  }
  ++stats.failed;
  if (stats.failed_since_taken++ == 0) {
    stats.first_failure = fmt::format("{} [{}]: {}", rd_kafka_topic_name(message->rkt),
                                      message->partition, error_text(message->err));
    log::connectors()->error("{}: delivery failed: {}", self->what_, stats.first_failure);
  }
}

void SinkProducer::on_error(rd_kafka_t*, int error, const char* reason, void* opaque) {
  auto* self = static_cast<SinkProducer*>(opaque);
  auto code = static_cast<rd_kafka_resp_err_t>(error);
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    log::connectors()->error("{}: fatal producer error: {}", self->what_, reason);
  } else {
    log::connectors()->warn("{}: {} (librdkafka retries)", self->what_, reason);
  }
}

void SinkProducer::wait_for_brokers(DurationMs timeout) {
  auto deadline = deadline_after(timeout);
  int backoff = 250;
  rd_kafka_resp_err_t last = RD_KAFKA_RESP_ERR_NO_ERROR;
  for (int attempt = 1;; ++attempt) {
    const rd_kafka_metadata_t* metadata = nullptr;
    auto attempt_end = deadline_after(backoff);
    int wait = std::min(backoff, remaining_ms(deadline));
    last = rd_kafka_metadata(handle_.get(), 0, topic_.get(), &metadata, std::max(wait, 1));
    if (last == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int i = 0; i < metadata->topic_cnt; ++i) {
        if (metadata->topics[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          log::connectors()->warn("{}: topic {}: {}", what_, metadata->topics[i].topic,
                                  error_text(metadata->topics[i].err));
        }
      }
      rd_kafka_metadata_destroy(metadata);
      return;
    }
    if (remaining_ms(deadline) == 0) break;
    log::connectors()->warn("{}: brokers not reachable yet (attempt {}: {}); retrying", what_,
                            attempt, error_text(last));
    // rd_kafka_metadata returns early on some errors: keep to the backoff.
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::min(remaining_ms(attempt_end), remaining_ms(deadline))));
    backoff = std::min(backoff * 2, 4000);
  }
  throw ExternalError(fmt::format("{}: cannot reach the Kafka brokers within {} ms: {}", what_,
                                  timeout, error_text(last)));
}

rd_kafka_resp_err_t SinkProducer::produce(const KafkaOutMessage& message) {
  rd_kafka_headers_t* headers = nullptr;
  if (message.header_count() > 0) {
    headers = rd_kafka_headers_new(message.header_count());
    message.for_each_header([&](std::string_view name, std::string_view value) {
      rd_kafka_header_add(headers, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                          static_cast<ssize_t>(value.size()));
    });
  }
  std::string_view key = message.key();
  std::string_view value = message.value();
  SteadyClock::time_point deadline{};
  for (;;) {
    rd_kafka_resp_err_t error = rd_kafka_producev(
        handle_.get(), RD_KAFKA_V_RKT(topic_.get()), RD_KAFKA_V_PARTITION(message.partition()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(message.has_key() ? key.data() : nullptr, key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
    if (error != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      // On success librdkafka owns the headers.
      if (error != RD_KAFKA_RESP_ERR_NO_ERROR && headers != nullptr) {
        rd_kafka_headers_destroy(headers);
      }
      return error;
    }
    // The local queue is full: serve delivery reports until there is room.
    if (deadline == SteadyClock::time_point{}) deadline = deadline_after(operation_timeout_);
    if (remaining_ms(deadline) == 0) {
      if (headers != nullptr) rd_kafka_headers_destroy(headers);
      throw ExternalError(fmt::format(
          "{}: the producer queue stayed full for {} ms (brokers too slow or unreachable)", what_,
          operation_timeout_));
    }
    rd_kafka_poll(handle_.get(), 10);
    check_fatal();
  }
}

void SinkProducer::produce_marker(const std::string& topic, int32_t partition, std::string_view key,
                                  std::string_view value) {
  rd_kafka_resp_err_t error = rd_kafka_producev(
      handle_.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key.data(), key.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_END);
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw ExternalError(fmt::format("{}: cannot send the commit marker to {}: {}", what_, topic,
                                    error_text(error)));
  }
}

void SinkProducer::poll() {
  rd_kafka_poll(handle_.get(), 0);
  check_fatal();
}

void SinkProducer::flush() {
  rd_kafka_resp_err_t error = rd_kafka_flush(handle_.get(), static_cast<int>(operation_timeout_));
  check_fatal();
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw ExternalError(fmt::format("{}: {} messages still undelivered after {} ms: {}", what_,
                                    rd_kafka_outq_len(handle_.get()), operation_timeout_,
                                    error_text(error)));
  }
}

uint64_t SinkProducer::take_failures(std::string& first) {
  uint64_t failed = stats_.failed_since_taken;
  first = std::move(stats_.first_failure);
  stats_.failed_since_taken = 0;
  stats_.first_failure.clear();
  return failed;
}

void SinkProducer::check_fatal() {
  char reason[512];
  rd_kafka_resp_err_t error = rd_kafka_fatal_error(handle_.get(), reason, sizeof(reason));
  if (error == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  throw ExternalError(
      fmt::format("{}: fatal producer error: {}: {}", what_, error_text(error), reason));
}

void SinkProducer::check(rd_kafka_error_t* error, const char* step) {
  if (error == nullptr) return;
  std::string text = rd_kafka_error_string(error);
  bool fatal = rd_kafka_error_is_fatal(error);
  bool abortable = rd_kafka_error_txn_requires_abort(error);
  rd_kafka_error_destroy(error);
  if (fatal) {
    throw ExternalError(
        fmt::format("{} ({}): fatal error in {}: {}", what_, transactional_id_, step, text));
  }
  if (abortable) {
    abort_transaction();
    throw ExternalError(fmt::format("{} ({}): {} failed, transaction aborted: {}", what_,
                                    transactional_id_, step, text));
  }
  throw ExternalError(fmt::format("{} ({}): {} failed: {}", what_, transactional_id_, step, text));
}

void SinkProducer::init_transactions(DurationMs timeout) {
  auto deadline = deadline_after(timeout);
  for (;;) {
    rd_kafka_error_t* error =
        rd_kafka_init_transactions(handle_.get(), std::max(remaining_ms(deadline), 1));
    if (error != nullptr && rd_kafka_error_is_retriable(error) && remaining_ms(deadline) > 0) {
      log::connectors()->warn("{} ({}): init_transactions: {}; retrying", what_, transactional_id_,
                              rd_kafka_error_string(error));
      rd_kafka_error_destroy(error);
      continue;
    }
    check(error, "init_transactions");
    return;
  }
}

void SinkProducer::begin_transaction() {
  check(rd_kafka_begin_transaction(handle_.get()), "begin_transaction");
  in_transaction_ = true;
}

void SinkProducer::commit_transaction() {
  auto deadline = deadline_after(operation_timeout_);
  for (;;) {
    rd_kafka_error_t* error =
        rd_kafka_commit_transaction(handle_.get(), std::max(remaining_ms(deadline), 1));
    if (error != nullptr && rd_kafka_error_is_retriable(error) && remaining_ms(deadline) > 0) {
      log::connectors()->warn("{} ({}): commit_transaction: {}; retrying", what_, transactional_id_,
                              rd_kafka_error_string(error));
      rd_kafka_error_destroy(error);
      continue;
    }
    if (error == nullptr) in_transaction_ = false;
    check(error, "commit_transaction");
    return;
  }
}

void SinkProducer::abort_transaction() {
  if (!in_transaction_) return;
  in_transaction_ = false;
  rd_kafka_error_t* error =
      rd_kafka_abort_transaction(handle_.get(), static_cast<int>(operation_timeout_));
  if (error == nullptr) return;
  log::connectors()->warn(
      "{} ({}): abort_transaction: {} (the next init_transactions on this id "
      "aborts it)",
      what_, transactional_id_, rd_kafka_error_string(error));
  rd_kafka_error_destroy(error);
}

}  // namespace sluice::kafka
