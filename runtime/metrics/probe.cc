#include "runtime/metrics/probe.h"

#include <algorithm>
#include <utility>

namespace sluice {

void MetricRegistry::add(const void* owner, std::string name, std::string help,
                         const Counter& counter, MetricLabels labels) {
  add_entry(Entry{owner, MetricSample{std::move(name), std::move(help), std::move(labels), true, 0},
                  &counter, nullptr, nullptr});
}

void MetricRegistry::add(const void* owner, std::string name, std::string help, const Gauge& gauge,
                         MetricLabels labels) {
  add_entry(Entry{owner,
                  MetricSample{std::move(name), std::move(help), std::move(labels), false, 0},
                  nullptr, &gauge, nullptr});
}

void MetricRegistry::add_reading(const void* owner, std::string name, std::string help,
                                 std::function<double()> read, MetricLabels labels) {
  add_entry(Entry{owner,
                  MetricSample{std::move(name), std::move(help), std::move(labels), false, 0},
                  nullptr, nullptr, std::move(read)});
}

void MetricRegistry::add_entry(Entry entry) {
  std::lock_guard lock(mutex_);
  entries_.push_back(std::move(entry));
}

void MetricRegistry::remove(const void* owner) {
  std::lock_guard lock(mutex_);
  std::erase_if(entries_, [owner](const Entry& e) { return e.owner == owner; });
}

std::vector<MetricSample> MetricRegistry::collect() const {
  std::lock_guard lock(mutex_);
  std::vector<MetricSample> samples;
  samples.reserve(entries_.size());
  for (const Entry& e : entries_) {
    MetricSample sample = e.sample;
    if (e.counter != nullptr) {
      sample.value = static_cast<double>(e.counter->value());
    } else if (e.gauge != nullptr) {
      sample.value = static_cast<double>(e.gauge->value());
    } else {
      sample.value = e.read();
    }
    samples.push_back(std::move(sample));
  }
  return samples;
}

}  // namespace sluice
