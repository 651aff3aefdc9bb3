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

// Each module's logger is created on first use and then shared.
#define SLUICE_MODULE_LOGGER(name)                                              \
  std::shared_ptr<spdlog::logger> name() {                                      \
    static const std::shared_ptr<spdlog::logger> logger = module_logger(#name); \
    return logger;                                                              \
  }

SLUICE_MODULE_LOGGER(runtime)
SLUICE_MODULE_LOGGER(state)
SLUICE_MODULE_LOGGER(operators)
SLUICE_MODULE_LOGGER(connectors)
SLUICE_MODULE_LOGGER(cli)
SLUICE_MODULE_LOGGER(cluster)

#undef SLUICE_MODULE_LOGGER

void set_level(const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  for (auto logger : {runtime(), state(), operators(), connectors(), cli(), cluster()}) {
    logger->set_level(parsed);
  }
}

}  // namespace sluice::log
