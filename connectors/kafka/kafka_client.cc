#include "connectors/kafka/kafka_client.h"

#include <fmt/format.h>

#include "runtime/core/errors.h"
#include "runtime/core/logging.h"

namespace sluice::kafka {
namespace {

// librdkafka logs with syslog levels from its own threads.
void forward_log(const rd_kafka_t*, int level, const char* facility, const char* message) {
  spdlog::level::level_enum to = level <= 3   ? spdlog::level::err
                                 : level == 4 ? spdlog::level::warn
                                 : level == 5 ? spdlog::level::info
                                              : spdlog::level::debug;
  log::connectors()->log(to, "librdkafka {}: {}", facility, message);
}

}  // namespace

void HandleDeleter::operator()(rd_kafka_t* handle) const {
  rd_kafka_destroy(handle);
}

Properties properties_from_params(const std::map<std::string, std::string>& params) {
  constexpr std::string_view kPrefix = "kafka.";
  Properties properties;
  for (const auto& [name, value] : params) {
    if (name.compare(0, kPrefix.size(), kPrefix) != 0) continue;
    std::string setting = name.substr(kPrefix.size());
    if (setting == "bootstrap") setting = "bootstrap.servers";
    properties[setting] = value;
  }
  return properties;
}

KafkaHandle make_client(rd_kafka_type_t type, const Properties& properties, const std::string& what,
                        void (*configure)(rd_kafka_conf_t*, void*), void* opaque) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char reason[512];
  for (const auto& [name, value] : properties) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), reason, sizeof(reason)) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw UsageError(fmt::format("{}: setting kafka.{}: {}", what, name, reason));
    }
  }
  rd_kafka_conf_set_log_cb(conf, forward_log);
  if (configure != nullptr) configure(conf, opaque);
  // rd_kafka_new takes `conf` over when it succeeds.
  rd_kafka_t* handle = rd_kafka_new(type, conf, reason, sizeof(reason));
  if (handle == nullptr) {
    rd_kafka_conf_destroy(conf);
    throw ExternalError(fmt::format("{}: cannot create the Kafka client: {}", what, reason));
  }
  return KafkaHandle(handle);
}

std::string error_text(rd_kafka_resp_err_t error) {
  return fmt::format("{} ({})", rd_kafka_err2str(error), rd_kafka_err2name(error));
}

}  // namespace sluice::kafka
