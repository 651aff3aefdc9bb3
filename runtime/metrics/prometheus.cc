#include "runtime/metrics/prometheus.h"

#include <cmath>

#include <fmt/format.h>

namespace sluice {
namespace {

std::string metric_name(const std::string& name) {
  std::string out = name;
  for (size_t i = 0; i < out.size(); ++i) {
    char c = out[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) out[i] = '_';
  }
  return out.empty() ? "_" : out;
}

std::string escaped(const std::string& text, bool quotes) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

std::string value_text(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return fmt::format("{}", static_cast<int64_t>(value));
  }
  return fmt::format("{}", value);
}

}  // namespace

void PrometheusText::add(const std::string& name, const std::string& help, Type type,
                         const MetricLabels& labels, double value) {
  std::string n = metric_name(name);
  auto [it, inserted] = families_.try_emplace(n, Family{help, type, {}});
  if (inserted) order_.push_back(n);
  std::string line = n;
  if (!labels.empty()) {
    line += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) line += ',';
      line += metric_name(labels[i].first) + "=\"" + escaped(labels[i].second, true) + '"';
    }
    line += '}';
  }
  it->second.lines.push_back(line + ' ' + value_text(value));
}

void PrometheusText::add_all(const std::vector<MetricSample>& samples, const std::string& prefix,
                             const MetricLabels& extra) {
  for (const MetricSample& sample : samples) {
    MetricLabels labels = extra;
    labels.insert(labels.end(), sample.labels.begin(), sample.labels.end());
    add(prefix + sample.name, sample.help, sample.counter ? Type::kCounter : Type::kGauge, labels,
        sample.value);
  }
}

std::string PrometheusText::str() const {
  std::string out;
  for (const std::string& name : order_) {
    const Family& family = families_.at(name);
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escaped(family.help, false), name,
                       family.type == Type::kCounter ? "counter" : "gauge");
    for (const std::string& line : family.lines) out += line + '\n';
  }
  return out;
}

void add_subtask_metrics(PrometheusText& out, const MetricLabels& labels,
                         const TaskRateTracker& tracker) {
  using Type = PrometheusText::Type;
  const TaskReading& r = tracker.last();
  const TaskRates& rates = tracker.rates();
  out.add("sluice_numRecordsIn", "records a subtask took from its input channels", Type::kCounter,
          labels, static_cast<double>(r.records_in));
  out.add("sluice_numRecordsOut", "records a subtask handed its output channels", Type::kCounter,
          labels, static_cast<double>(r.records_out));
  out.add("sluice_numRecordsInPerSecond", "records in per second", Type::kGauge, labels,
          rates.records_in);
  out.add("sluice_numRecordsOutPerSecond", "records out per second", Type::kGauge, labels,
          rates.records_out);
  out.add("sluice_busyTimeMsPerSecond", "time a subtask worked, ms per second", Type::kGauge,
          labels, rates.busy_ms);
  out.add("sluice_idleTimeMsPerSecond", "time a subtask waited for input, ms per second",
          Type::kGauge, labels, rates.idle_ms);
  out.add("sluice_backPressuredTimeMsPerSecond",
          "time a subtask waited for room in an output channel, ms per second", Type::kGauge,
          labels, rates.backpressured_ms);
  if (r.input_watermark) {
    out.add("sluice_currentInputWatermark", "a subtask's input watermark (ms)", Type::kGauge,
            labels, static_cast<double>(*r.input_watermark));
  }
}

}  // namespace sluice
