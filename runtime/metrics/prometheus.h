// Writes metrics in the Prometheus text exposition format (version 0.0.4):
// per metric name a HELP and a TYPE line, then one line per label set.
// Samples of one name are grouped wherever they were added; names keep
// the order in which they first appeared. Label values are escaped.
//
// Threading: a plain value, built and read by one thread.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "runtime/metrics/probe.h"
#include "runtime/metrics/task_rates.h"

namespace sluice {

// The media type of the format, for an HTTP answer.
inline constexpr char kPrometheusContentType[] = "text/plain; version=0.0.4; charset=utf-8";

class PrometheusText {
 public:
  enum class Type { kCounter, kGauge };

  // `name` must match [a-zA-Z_:][a-zA-Z0-9_:]*; other characters become '_'.
  void add(const std::string& name, const std::string& help, Type type, const MetricLabels& labels,
           double value);
  // Every sample of a registry, each name prefixed, each with `extra` labels first.
  void add_all(const std::vector<MetricSample>& samples, const std::string& prefix,
               const MetricLabels& extra);
  std::string str() const;

 private:
  struct Family {
    std::string help;
    Type type;
    std::vector<std::string> lines;
  };
  std::vector<std::string> order_;
  std::map<std::string, Family> families_;
};

// A subtask's counters and rates in Flink's names (sluice_numRecordsIn,
// sluice_busyTimeMsPerSecond, ...), labelled with `labels`.
void add_subtask_metrics(PrometheusText& out, const MetricLabels& labels,
                         const TaskRateTracker& tracker);

}  // namespace sluice
