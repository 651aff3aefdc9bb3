// A Nexmark job: where events come from (the in-process generator or a
// dump), which query runs, and where its rows go. Shared by the `nexmark`
// topology and the `bench nexmark` harness. Built on the topology thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "connectors/nexmark/generator.h"
#include "runtime/api/topology.h"
#include "topologies/nexmark/latency.h"

namespace sluice {
class Params;
}

namespace sluice::nexmark {

struct NexmarkJob {
  std::string query = "q0";
  uint64_t events = 0;  // generator events; 0: unbounded
  std::string input;    // a dump to read instead of the generator
  std::string output;   // a directory, or empty to discard rows
  GeneratorConfig generator;
  DurationMs out_of_orderness = 4000;
  std::shared_ptr<LatencyRecorder> latency;  // set to measure latency
  // Generator events released per second of processing time (0: as fast
  // as they are taken). With latency measured, an event's latency then
  // counts from its release, the moment it became available to read (or
  // from its making, when the throttle made it earlier).
  double throughput = 0;
};

// Reads the generator parameters (events, rate, seed, base-time).
GeneratorConfig generator_config_from(const Params& params);

// The event stream of the job: generated or read from its dump.
Stream<Event> nexmark_events(Topology& topology, const NexmarkJob& job);

void build_nexmark(Topology& topology, const NexmarkJob& job);

}  // namespace sluice::nexmark
