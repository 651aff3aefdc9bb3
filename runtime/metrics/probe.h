// Metrics probes, Seastar's habit: a module that counts something declares
// all its metrics in one probe type, a struct of Counter and Gauge members,
// and registers each once, with a name and a help text, in the job's
// MetricRegistry. Values are relaxed atomics updated by the thread that owns
// them (no lock, no allocation); collect() reads every registered metric
// from any thread. The progress line and the end-of-job summary read
// counters directly; listings by name (for an HTTP endpoint or Prometheus)
// come from collect(). A value that lives elsewhere (a RocksDB property, a
// consumer's lag) registers as a reading: a function collect() calls.
//
// Threading: Counter and Gauge from any thread. MetricRegistry: add() and
// collect() from any thread (one lock, never on a record's path); a
// reading runs under that lock, on the collecting thread, and must not use
// the registry.
// Lifecycle: a probe's metrics outlive their registration; a probe that
// ends before the registry removes itself (MetricRegistry::remove).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace sluice {

// A count that only grows.
class Counter {
 public:
  void add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that is set, like a duration or a size.
class Gauge {
 public:
  Gauge() = default;
  explicit Gauge(int64_t initial) : value_(initial) {}
  void set(int64_t value) { value_.store(value, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Label names and values, like {{"task", "job/count/0"}}.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// One metric as collect() reports it.
struct MetricSample {
  std::string name;  // "module_metric", like "checkpoint_completed"
  std::string help;
  MetricLabels labels;
  bool counter = true;  // false: a gauge
  double value = 0;
};

class MetricRegistry {
 public:
  // `owner` identifies the probe, for remove(); `labels` tells apart the
  // probes of one kind (like task="job/count/0").
  void add(const void* owner, std::string name, std::string help, const Counter& counter,
           MetricLabels labels = {});
  void add(const void* owner, std::string name, std::string help, const Gauge& gauge,
           MetricLabels labels = {});
  // A gauge whose value `read` returns when collected.
  void add_reading(const void* owner, std::string name, std::string help,
                   std::function<double()> read, MetricLabels labels = {});
  // Forgets every metric of `owner`.
  void remove(const void* owner);
  // Every registered metric with its current value, in registration order.
  std::vector<MetricSample> collect() const;

 private:
  struct Entry {
    const void* owner;
    MetricSample sample;
    const Counter* counter;
    const Gauge* gauge;
    std::function<double()> read;
  };
  void add_entry(Entry entry);

  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
};

// Keeps a probe's metrics registered while it is in scope.
class ProbeRegistration {
 public:
  ProbeRegistration(MetricRegistry& registry, const void* owner)
      : registry_(registry), owner_(owner) {}
  ProbeRegistration(const ProbeRegistration&) = delete;
  ProbeRegistration& operator=(const ProbeRegistration&) = delete;
  ~ProbeRegistration() { registry_.remove(owner_); }

 private:
  MetricRegistry& registry_;
  const void* owner_;
};

}  // namespace sluice
