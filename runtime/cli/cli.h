// The `sluice` command line. A binary that links the runtime and registers
// topologies calls cli_main() from main() and gets every subcommand:
//   run TOPOLOGY [options]   run a job on the embedded local cluster
//   topologies               list registered topologies and their parameters
// Exit codes: 0 success, 1 job failure, 2 usage error, 130 interrupted.
#pragma once

namespace sluice {

// The exit codes of every command (a contract that scripts rely on).
inline constexpr int kExitOk = 0;
inline constexpr int kExitJobFailed = 1;  // also: a client command that failed
inline constexpr int kExitUsage = 2;
inline constexpr int kExitInterrupted = 130;

int cli_main(int argc, char** argv);

}  // namespace sluice
