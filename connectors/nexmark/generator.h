// The Nexmark generator: event number n (0, 1, 2, ...) maps to exactly one
// event, a pure function of (seed, n), so any split of the numbers across
// subtasks yields the same events. In every block of 50 events: 1 person,
// 3 auctions, 46 bids. Event time advances at the configured rate,
// independent of the wall clock. Ids start at 1000; auctions are sold by
// people who exist, bids go to auctions and come from people who exist.
//
// Pure functions; safe from any thread.
#pragma once

#include <cstdint>

#include "connectors/nexmark/events.h"
#include "connectors/split_random.h"

namespace sluice::nexmark {

struct GeneratorConfig {
  // Events per second of event time (the default of Flink's Nexmark suite).
  int64_t rate = 10'000'000;
  // Event time of event 0: 2026-01-01T00:00:00Z.
  Timestamp base_time = 1767225600000;
  uint64_t seed = 0;
};

inline constexpr int64_t kFirstId = 1000;
inline constexpr int64_t kBlock = 50;
inline constexpr int64_t kPersonsPerBlock = 1;
inline constexpr int64_t kAuctionsPerBlock = 3;

// Event time of event n: base_time + n * 1000 / rate, computed in
// microseconds so that rates above 1000/s do not round to whole ms early.
Timestamp event_time(const GeneratorConfig& config, uint64_t n);

// An event's data size: 8 bytes per number plus the bytes of its strings.
// The generator pads `extra` so that persons, auctions and bids average
// 200, 500 and 100 bytes by this measure.
size_t event_size(const Event& event);

// The event with number n; `rng` must be SplitRandom(config.seed, n).
Event generate_event(const GeneratorConfig& config, uint64_t n, SplitRandom& rng);

}  // namespace sluice::nexmark
