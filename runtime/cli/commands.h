// The binary's subcommands besides `run` and `topologies`: the cluster's
// (jobmanager, submit, ...) and those of the commands module (dev-kafka,
// bench, ...). Each registers with SLUICE_COMMAND during static
// initialisation; cli_main() looks commands up afterwards, read-only.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "runtime/job/registry.h"

namespace sluice {

// run() gets the arguments after the command's name and returns the exit
// code; it throws UsageError for bad arguments.
struct CommandSpec {
  std::string name;
  std::string summary;
  std::function<int(const std::vector<std::string>&)> run;
};

using CommandRegistry = Registry<CommandSpec>;

// Registers a CommandSpec at static initialisation.
#define SLUICE_COMMAND(...)                                               \
  static const bool SLUICE_CONCAT(sluice_command_registered_, __LINE__) = \
      ::sluice::CommandRegistry::instance().add(__VA_ARGS__)

}  // namespace sluice
