// The input of the CSV-event topologies (windowed-count, demo): lines
// `event_time_ms,key,value` from a file, or from the values of a Kafka
// topic ("kafka:TOPIC", configured by the kafka.* parameters). Called while
// a topology is built.
#pragma once

#include <string>

#include "connectors/file_source.h"
#include "runtime/job/registry.h"
#include "topologies/csv_events.h"
#include "topologies/kafka_endpoints.h"

namespace sluice::topologies {

// The "on-error" parameter: fail, skip, or (Kafka inputs) dead-letter:TOPIC,
// which skips too and returns the topic in `dead_letter_topic`.
OnError on_error_param(const Params& params, std::string* dead_letter_topic = nullptr);

// A source named `name` reading `input` (the value of parameter `name`);
// `keep_raw` keeps each line in its event (for late-data output). The
// "rate" parameter throttles it.
template <class Strategy>
Stream<CsvEvent> read_csv_events(Topology& topology, const Params& params, const std::string& name,
                                 const std::string& input, bool keep_raw, Strategy strategy) {
  double rate = params.has("rate") ? params.get_double("rate") : 0;
  if (auto topic = kafka_topic(name, input)) {
    kafka::KafkaSourceOptions options = kafka_source_options(params, *topic, name);
    options.on_error = on_error_param(params, &options.dead_letter_topic);
    options.rate = rate;
    auto parse = [keep_raw](const kafka::KafkaRecord& record) {
      return parse_csv_event(record.value, record, keep_raw);
    };
    return topology.source<CsvEvent>(
        name, std::make_shared<kafka::KafkaSource<CsvEvent, decltype(parse)>>(options, parse),
        strategy);
  }
  FileSourceOptions options;
  options.path = input;
  options.rate = rate;
  options.on_error = on_error_param(params);
  auto parse = [keep_raw](std::string_view line, const LineLocation& where) {
    return parse_csv_event(line, where, keep_raw);
  };
  return topology.source<CsvEvent>(
      name, std::make_shared<FileSource<CsvEvent, decltype(parse)>>(options, parse), strategy);
}

// The source "input", reading parameter `input`'s value.
template <class Strategy>
Stream<CsvEvent> read_csv_events(Topology& topology, const Params& params, const std::string& input,
                                 bool keep_raw, Strategy strategy) {
  return read_csv_events(topology, params, "input", input, keep_raw, strategy);
}

}  // namespace sluice::topologies
