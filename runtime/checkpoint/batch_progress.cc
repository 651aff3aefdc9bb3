#include "runtime/checkpoint/batch_progress.h"

#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace sluice {

int64_t BatchProgress::total_rows() const {
  int64_t total = 0;
  for (const auto& [source, rows] : input_rows) total += rows;
  return total;
}

double BatchProgress::rows_per_second() const {
  return static_cast<double>(total_rows()) * 1000.0 /
         static_cast<double>(std::max<DurationMs>(total_ms(), 1));
}

std::string BatchProgress::to_json() const {
  nlohmann::ordered_json sources = nlohmann::ordered_json::array();
  for (const auto& [source, rows] : input_rows) {
    sources.push_back({{"name", source}, {"input_rows", rows}});
  }
  nlohmann::ordered_json line = {
      {"batch", batch},
      {"replayed", replayed},
      {"committed_at_ms", committed_at},
      {"input_rows", total_rows()},
      {"rows_per_second", std::round(rows_per_second() * 10) / 10},
      {"sources", std::move(sources)},
      {"duration_ms",
       {{"planning", planning_ms},
        {"processing", processing_ms},
        {"commit", commit_ms},
        {"total", total_ms()}}},
      {"watermark_ms", watermark ? nlohmann::ordered_json(*watermark) : nullptr},
      {"state_bytes", state_bytes}};
  // Source names are the user's: replace what is not UTF-8 rather than fail.
  return line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string BatchProgress::to_log_line() const {
  std::string sources;
  for (const auto& [source, rows] : input_rows) {
    sources += fmt::format("{}{} {}", sources.empty() ? "" : ", ", source, rows);
  }
  return fmt::format(
      "batch {}{}: {} rows in ({}), {:.0f} rows/s, {} ms (planning {}, processing {}, commit {}), "
      "watermark {}, state {} bytes",
      batch, replayed ? " (replayed)" : "", total_rows(), sources, rows_per_second(), total_ms(),
      planning_ms, processing_ms, commit_ms,
      watermark ? format_timestamp(*watermark) : std::string("none"), state_bytes);
}

}  // namespace sluice
