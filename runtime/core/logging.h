// One spdlog logger per module. Log lines that concern a task carry its
// "job/vertex/subtask" name. Loggers are created once and are thread-safe.
#pragma once

#include <memory>

#include <spdlog/spdlog.h>

namespace sluice::log {

std::shared_ptr<spdlog::logger> runtime();
std::shared_ptr<spdlog::logger> state();
std::shared_ptr<spdlog::logger> operators();
std::shared_ptr<spdlog::logger> connectors();
std::shared_ptr<spdlog::logger> cli();
std::shared_ptr<spdlog::logger> cluster();

// Sets the level of every module logger ("debug", "info", "warn", "error").
void set_level(const std::string& level);

}  // namespace sluice::log
