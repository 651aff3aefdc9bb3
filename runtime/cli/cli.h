// The `sluice` command line. A binary that links the runtime and registers
// topologies calls cli_main() from main() and gets every subcommand:
//   run TOPOLOGY [options]   run a job on the embedded local cluster
//   topologies               list registered topologies and their parameters
// Exit codes: 0 success, 1 job failure, 2 usage error, 130 interrupted.
#pragma once

namespace sluice {

int cli_main(int argc, char** argv);

}  // namespace sluice
