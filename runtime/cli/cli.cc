#include "runtime/cli/cli.h"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "runtime/checkpoint/restore.h"
#include "runtime/cli/command_line.h"
#include "runtime/cli/commands.h"
#include "runtime/core/logging.h"
#include "runtime/executor/local_executor.h"
#include "runtime/job/job_setup.h"
#include "runtime/job/registry.h"
#include "runtime/job/state_dir.h"

namespace sluice {
namespace {

std::string main_usage() {
  std::string usage =
      "usage: sluice COMMAND [options]\n"
      "\n"
      "commands:\n"
      "  topologies               list the registered topologies and their parameters\n";
  for (const CommandSpec* spec : CommandRegistry::instance().all()) {
    usage += fmt::format("  {:<24} {}\n", spec->name + " ...", spec->summary);
  }
  usage +=
      "  help                     this text\n"
      "\n"
      "`sluice COMMAND --help` describes a command.\n";
  return usage;
}

int topologies_command(const std::vector<std::string>& args) {
  CommandLine line("topologies",
                   "Lists the registered topologies with their parameters and defaults.");
  if (!line.parse(args)) return kExitOk;
  for (const TopologySpec* spec : TopologyRegistry::instance().all()) {
    fmt::print("{}\n    {}\n", spec->name, spec->description);
    for (const ParamSpec& p : spec->params) {
      std::string detail =
          p.required ? "required"
                     : (p.default_value.empty() ? "optional" : "default " + p.default_value);
      fmt::print("    --set {}=...  {} ({})\n", p.name, p.description, detail);
    }
    fmt::print("\n");
  }
  return kExitOk;
}

}  // namespace

int cli_main(int argc, char** argv) {
  // A closed stdout (`sluice run ... | head`) is an I/O error for the sink
  // to report, not a signal that kills the process.
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    fmt::print(stderr, "{}", main_usage());
    return kExitUsage;
  }
  std::string command = args.front();
  args.erase(args.begin());
  try {
    if (command == "topologies") return topologies_command(args);
    if (command == "help" || command == "--help" || command == "-h") {
      fmt::print("{}", main_usage());
      return kExitOk;
    }
    if (const CommandSpec* spec = CommandRegistry::instance().find(command)) {
      return spec->run(args);
    }
    throw UsageError("unknown command '" + command + "' (see sluice help)");
  } catch (const UsageError& e) {
    fmt::print(stderr, "sluice: {}\n", e.what());
    return kExitUsage;
  } catch (const SluiceError& e) {
    fmt::print(stderr, "sluice: {}\n", e.what());
    return e.kind() == ErrorKind::kUsage ? kExitUsage : kExitJobFailed;
  } catch (const std::exception& e) {
    fmt::print(stderr, "sluice: {}\n", e.what());
    return kExitJobFailed;
  }
}

}  // namespace sluice
