// The registered Nexmark topologies: `nexmark-gen` dumps generated events as
// JSON lines; `nexmark` runs one query on generated or dumped events.
#include "connectors/file_sink.h"
#include "connectors/nexmark/json.h"
#include "runtime/job/registry.h"
#include "topologies/nexmark/nexmark_job.h"
#include "topologies/nexmark/queries.h"

namespace sluice::nexmark {
namespace {

const ParamSpec kRate{"rate", "events per second of event time", "10000000"};
const ParamSpec kSeed{"seed", "generator seed", "0"};
const ParamSpec kBaseTime{"base-time", "event time of event 0 (ms)", "1767225600000"};

void build_generator_dump(Topology& topology, const Params& params) {
  NexmarkJob job;
  job.events = static_cast<uint64_t>(params.get_int("events"));
  if (job.events == 0) throw UsageError("parameter 'events' must be positive");
  job.generator = generator_config_from(params);
  Stream<Event> events = nexmark_events(topology, job);
  FileSinkOptions options;
  options.directory = params.get("output");
  auto format = [](const Event& e, std::string& out) { append_event_json(e, out); };
  events.sink("dump", std::make_shared<FileSink<Event, decltype(format)>>(options, format));
}

void build_query_job(Topology& topology, const Params& params) {
  NexmarkJob job;
  job.query = params.get("query");
  if (params.has("input") == params.has("events")) {
    throw UsageError("set exactly one of 'events' (generate) and 'input' (read a dump)");
  }
  if (params.has("events")) job.events = static_cast<uint64_t>(params.get_int("events"));
  job.input = params.get_or("input", "");
  std::string output = params.get("output");
  job.output = output == "null" ? "" : output;
  job.generator = generator_config_from(params);
  job.out_of_orderness = params.get_duration("out-of-orderness");
  if (params.has("throughput")) {
    job.throughput = params.get_double("throughput");
    if (!(job.throughput > 0)) throw UsageError("parameter 'throughput' must be positive");
  }
  build_nexmark(topology, job);
}

std::string query_list() {
  std::string list;
  for (const std::string& q : query_names()) list += (list.empty() ? "" : ", ") + q;
  return list;
}

SLUICE_TOPOLOGY(TopologySpec{"nexmark-gen",
                             "writes generated Nexmark events as JSON lines",
                             {{"events", "how many events", "", true},
                              {"output", "output directory for part files", "", true},
                              kRate,
                              kSeed,
                              kBaseTime},
                             build_generator_dump});

SLUICE_TOPOLOGY(TopologySpec{
    "nexmark",
    "runs one Nexmark query on generated events or a dump",
    {{"query", "one of " + query_list(), "", true},
     {"events", "generate this many events (or set input)", ""},
     {"input", "read events from this dump of JSON lines (or set events)", ""},
     {"output", "output directory for part files, or null to discard rows", "", true},
     kRate,
     kSeed,
     kBaseTime,
     {"out-of-orderness", "watermark delay", "4s"},
     {"throughput", "generated events per second of wall time (unthrottled unless set)", ""}},
    build_query_job});

}  // namespace
}  // namespace sluice::nexmark
