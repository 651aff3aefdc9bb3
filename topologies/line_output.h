// The `output` parameter of a topology that writes one text line per
// record: part files in a directory (exactly-once with checkpoints), or
// "kafka:TOPIC" (one message per record, keyed by key_of(record), with the
// kafka.* guarantee). Called while a topology is built.
#pragma once

#include <memory>
#include <string>

#include "connectors/file_sink.h"
#include "runtime/job/registry.h"
#include "topologies/kafka_endpoints.h"

namespace sluice::topologies {

template <class T, class KeyFn>
void write_lines(const Stream<T>& records, const Params& params, const std::string& job,
                 void (*format)(const T&, std::string&), KeyFn key_of) {
  std::string output = params.get("output");
  if (auto topic = kafka_topic("output", output)) {
    auto serialize = [format, key_of](const T& record, kafka::KafkaOutMessage& message) {
      message.set_key(key_of(record));
      format(record, message.value_buffer());
    };
    records.sink("output",
                 kafka::make_kafka_sink<T>(kafka_sink_options(params, *topic, job), serialize));
    return;
  }
  FileSinkOptions files;
  files.directory = output;
  records.sink("output",
               std::make_shared<FileSink<T, void (*)(const T&, std::string&)>>(files, format));
}

}  // namespace sluice::topologies
