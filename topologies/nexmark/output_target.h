// Where a Nexmark query's rows go: part files in a directory, nowhere
// (output=null: rows are counted and dropped), and optionally a latency
// recorder that notes, per row, the time from its ingestion to its arrival
// at the sink. Built on the topology thread; the sinks it makes run on their
// task threads.
#pragma once

#include <memory>
#include <string>

#include "connectors/file_sink.h"
#include "runtime/api/topology.h"
#include "topologies/nexmark/latency.h"
#include "topologies/nexmark/rows.h"

namespace sluice::nexmark {

// Drops rows; records their latency when given a recorder.
template <class Row>
class DiscardingSink final : public Sink<Row> {
 public:
  explicit DiscardingSink(std::shared_ptr<LatencyRecorder> latency) : latency_(latency) {}
  std::unique_ptr<SinkWriter<Row>> create_writer() const override {
    return std::make_unique<Writer>(latency_);
  }

 private:
  class Writer final : public SinkWriter<Row> {
   public:
    explicit Writer(std::shared_ptr<LatencyRecorder> latency) : latency_(std::move(latency)) {}
    void write(Batch<Row>& batch) override {
      if (!latency_) return;
      int64_t now = steady_now_ns();
      for (const Record<Row>& r : batch) histogram_.record_us((now - r.value.ingest_ns) / 1000);
    }
    void finish() override {
      if (latency_) latency_->merge(histogram_);
    }

   private:
    std::shared_ptr<LatencyRecorder> latency_;
    LatencyHistogram histogram_;
  };
  std::shared_ptr<LatencyRecorder> latency_;
};

struct OutputTarget {
  std::string directory;  // empty: discard
  std::shared_ptr<LatencyRecorder> latency;

  template <class Row>
  void attach(const Stream<Row>& rows) const {
    if (directory.empty()) {
      rows.sink("output", std::make_shared<DiscardingSink<Row>>(latency));
      return;
    }
    FileSinkOptions options;
    options.directory = directory;
    auto format = [](const Row& r, std::string& out) { format_row(r, out); };
    rows.sink("output", std::make_shared<FileSink<Row, decltype(format)>>(options, format));
  }
};

}  // namespace sluice::nexmark
