#include "runtime/checkpoint/batch_progress.h"

#include <fmt/format.h>

namespace sluice {
namespace {

// A JSON string literal of `text`.
std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += fmt::format("\\u{:04x}", u);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

int64_t BatchProgress::total_rows() const {
  int64_t total = 0;
  for (const auto& [source, rows] : input_rows) total += rows;
  return total;
}

double BatchProgress::rows_per_second() const {
  return static_cast<double>(total_rows()) * 1000.0 / static_cast<double>(std::max<DurationMs>(total_ms(), 1));
}

std::string BatchProgress::to_json() const {
  std::string sources;
  for (const auto& [source, rows] : input_rows) {
    if (!sources.empty()) sources += ',';
    sources += fmt::format(R"({{"name":{},"input_rows":{}}})", json_string(source), rows);
  }
  return fmt::format(
      R"({{"batch":{},"replayed":{},"committed_at_ms":{},"input_rows":{},"rows_per_second":{:.1f},)"
      R"("sources":[{}],"duration_ms":{{"planning":{},"processing":{},"commit":{},"total":{}}},)"
      R"("watermark_ms":{},"state_bytes":{}}})",
      batch, replayed, committed_at, total_rows(), rows_per_second(), sources, planning_ms,
      processing_ms, commit_ms, total_ms(), watermark ? std::to_string(*watermark) : "null",
      state_bytes);
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
