// `sluice kafka-relay`: lets a client on another host use the development
// broker (`sluice dev-kafka --listen ADDRESS` there). It waits for the
// broker's bootstrap file, then relays 127.0.0.1:PORT here to HOST:PORT for
// every port the file lists, so that the addresses the mock advertises in
// its metadata (127.0.0.1 and its ports) lead to it. Runs until SIGINT or
// SIGTERM (then exits 0). See topologies/tcp_relay.h for why.
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "runtime/cli/command_line.h"
#include "runtime/cli/commands.h"
#include "runtime/core/errors.h"
#include "runtime/core/logging.h"
#include "topologies/stop_signals.h"
#include "topologies/tcp_relay.h"

namespace sluice::topologies {
namespace {

struct RelayOptions {
  std::string bootstrap_file;
  std::string to;
  DurationMs wait = 60'000;
  bool help = false;
};

RelayOptions parse_relay_options(const std::vector<std::string>& args) {
  RelayOptions options;
  CommandLine line("kafka-relay",
                   "Relays 127.0.0.1:PORT on this host to HOST:PORT for every port of the "
                   "development broker's bootstrap list in PATH (written by `sluice dev-kafka "
                   "--bootstrap-file PATH --listen ADDRESS` on HOST, e.g. on a shared volume), "
                   "so that Kafka clients here can use that broker through 127.0.0.1. Runs "
                   "until SIGINT or SIGTERM.");
  line.text("--bootstrap-file", options.bootstrap_file, "the broker's bootstrap list")
      ->type_name("PATH")
      ->required();
  line.text("--to", options.to, "the broker's host, as this host resolves it")
      ->type_name("HOST")
      ->required();
  line.duration("--wait", options.wait, "how long to wait for PATH to appear (default 60s)");
  options.help = !line.parse(args);
  return options;
}

// The first line of `path` once it exists, polling for up to `wait`.
std::string wait_for_bootstrap(const std::string& path, DurationMs wait) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait);
  while (true) {
    std::ifstream in(path);
    std::string line;
    if (in && std::getline(in, line) && !line.empty()) return line;
    if (std::chrono::steady_clock::now() >= deadline) {
      throw ExternalError(fmt::format("kafka-relay: no bootstrap list in {} after {}", path,
                                      format_duration(wait)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polling a file
  }
}

int run_kafka_relay(const std::vector<std::string>& args) {
  RelayOptions options = parse_relay_options(args);
  if (options.help) return 0;
  BlockedStopSignals stop_signals;
  std::string bootstraps = wait_for_bootstrap(options.bootstrap_file, options.wait);
  TcpRelays relays;
  for (uint16_t port : bootstrap_ports(bootstraps)) relays.add("127.0.0.1", port, options.to, port);
  log::cli()->info("kafka-relay ready: 127.0.0.1 to {} for {}", options.to, bootstraps);
  stop_signals.wait();
  return 0;
}

SLUICE_COMMAND(CommandSpec{"kafka-relay", "reach a development broker on another host (--help)",
                           run_kafka_relay});

}  // namespace
}  // namespace sluice::topologies
