// Sinks: a Sink<T> is the plan (where to write), shared by all subtasks; it
// creates one SinkWriter<T> per subtask.
//
// Threading: a writer is used only on its task's thread.
// Lifecycle: create_writer -> open -> write* (with on_watermark between) ->
// finish (end of input: flush and publish everything) -> close. close() also
// runs after a failure, without finish(); it must then not publish.
#pragma once

#include <memory>
#include <string>

#include "runtime/api/record.h"
#include "runtime/core/clock.h"

namespace sluice {

class JobMetrics;

struct SinkContext {
  int subtask = 0;
  int parallelism = 1;
  std::string task_name;
  const Clock* clock = nullptr;
  JobMetrics* metrics = nullptr;  // for notes in the end-of-job summary
};

template <class T>
class SinkWriter {
 public:
  virtual ~SinkWriter() = default;
  virtual void open(const SinkContext& context) {}
  virtual void write(Batch<T>& batch) = 0;
  virtual void on_watermark(Timestamp watermark) {}
  virtual void finish() {}
  virtual void close() {}
};

template <class T>
class Sink {
 public:
  virtual ~Sink() = default;
  virtual std::unique_ptr<SinkWriter<T>> create_writer() const = 0;
};

}  // namespace sluice
