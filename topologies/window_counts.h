// The pipeline shared by windowed-count and the demo: key CSV events by key,
// window them, and count and sum per key and window; late input lines go to
// a text file when one is given. The counts go to part files or to Kafka.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "connectors/file_sink.h"
#include "connectors/paced_sink.h"
#include "runtime/api/topology.h"
#include "topologies/csv_events.h"
#include "topologies/kafka_endpoints.h"

namespace sluice::topologies {

struct CountSum {
  using Acc = std::pair<int64_t, int64_t>;
  Acc create() const { return {0, 0}; }
  void add(Acc& acc, const CsvEvent& e) const {
    ++acc.first;
    acc.second += e.value;
  }
  Acc result(const Acc& acc) const { return acc; }
  void merge(Acc& into, const Acc& from) const {
    into.first += from.first;
    into.second += from.second;
  }
};

inline WindowCount window_count(const std::string& key, const TimeWindow& w, CountSum::Acc&& r) {
  return WindowCount{w.start, w.end, key, r.first, r.second};
}

struct WindowCountOptions {
  DurationMs allowed_lateness = 0;
  std::optional<std::string> late_output;  // file for late input lines
};

template <class Assigner>
Stream<WindowCount> count_per_window(Stream<CsvEvent> events, Assigner assigner,
                                     const WindowCountOptions& options) {
  auto windowed = events.key_by([](const CsvEvent& e) { return e.key; })
                      .window(assigner)
                      .allowed_lateness(options.allowed_lateness);
  const OutputTag<CsvEvent> late_tag{"late-data"};
  if (options.late_output) windowed = windowed.late_data(late_tag);
  Stream<WindowCount> counts = windowed.aggregate("count", CountSum{}, window_count);
  if (options.late_output) {
    auto write_raw = [](const CsvEvent& e, std::string& out) { out += e.raw; };
    counts.side_output(late_tag)
        .sink("late-output", std::make_shared<TextFileSink<CsvEvent, decltype(write_raw)>>(
                                 *options.late_output, write_raw))
        .parallelism(1);
  }
  return counts;
}

inline std::shared_ptr<const Sink<WindowCount>> window_count_files(const std::string& directory) {
  FileSinkOptions options;
  options.directory = directory;
  return std::make_shared<FileSink<WindowCount, decltype(&format_window_count)>>(
      options, &format_window_count);
}

// The `output` parameter: part files in a directory, or "kafka:TOPIC"
// (messages keyed by the key, with the kafka.* guarantee) for topology `job`.
inline void write_window_counts(const Stream<WindowCount>& counts, const Params& params,
                                const std::string& job) {
  std::string output = params.get("output");
  auto topic = kafka_topic("output", output);
  if (!topic) {
    if (params.has("output-rate")) {
      double rate = params.get_double("output-rate");
      if (rate <= 0) throw UsageError("parameter 'output-rate' must be positive");
      counts.sink("output",
                  std::make_shared<PacedSink<WindowCount>>(rate, window_count_files(output)));
    } else {
      counts.sink("output", window_count_files(output));
    }
    return;
  }
  auto serialize = [](const WindowCount& w, kafka::KafkaOutMessage& message) {
    message.set_key(w.key);
    format_window_count(w, message.value_buffer());
  };
  counts.sink("output", kafka::make_kafka_sink<WindowCount>(kafka_sink_options(params, *topic, job),
                                                            serialize));
}

}  // namespace sluice::topologies
