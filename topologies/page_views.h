// The demo's page views: a seeded generator of page-view events (page,
// dwell time in ms) in real time with some disorder. The demo topology
// generates them itself or reads them from Kafka, where the page-views
// topology writes them. Pure functions of (seed, index).
#pragma once

#include <string>

#include "connectors/split_random.h"
#include "topologies/csv_events.h"

namespace sluice::topologies {

constexpr DurationMs kMaxDisorderMs = 500;

// Event n happens n / rate seconds after `start`, up to kMaxDisorderMs early.
struct PageViews {
  Timestamp start;
  double rate;
  CsvEvent operator()(uint64_t index, SplitRandom& rng) const {
    CsvEvent e;
    e.event_time = start + static_cast<Timestamp>(static_cast<double>(index) * 1000.0 / rate) -
                   rng.between(0, kMaxDisorderMs);
    // A few popular pages and a long tail.
    uint64_t page = rng.chance(0.5) ? rng.below(5) : rng.below(200);
    e.key = "page-" + std::to_string(page);
    e.value = rng.between(100, 60000);
    return e;
  }
};

}  // namespace sluice::topologies
