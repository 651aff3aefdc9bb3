#include "runtime/core/logging.h"

#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace sluice::log {
namespace {

std::shared_ptr<spdlog::logger> module_logger(const char* name) {
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = spdlog::stderr_color_mt(name);
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ [%n] %v");
  return logger;
}

}  // namespace

std::shared_ptr<spdlog::logger> runtime() {
  static auto logger = module_logger("runtime");
  return logger;
}
std::shared_ptr<spdlog::logger> state() {
  static auto logger = module_logger("state");
  return logger;
}
std::shared_ptr<spdlog::logger> operators() {
  static auto logger = module_logger("operators");
  return logger;
}
std::shared_ptr<spdlog::logger> connectors() {
  static auto logger = module_logger("connectors");
  return logger;
}
std::shared_ptr<spdlog::logger> cli() {
  static auto logger = module_logger("cli");
  return logger;
}

void set_level(const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  for (auto logger : {runtime(), state(), operators(), connectors(), cli()}) {
    logger->set_level(parsed);
  }
}

}  // namespace sluice::log
