// The job options of `sluice run` (and of `sluice submit`, which passes
// them on): declared once on a command line, parsed into RunOptions, then
// checked together. Throws UsageError with a one-line message.
//
// Threading: pure functions.
#pragma once

#include <string>
#include <vector>

#include "runtime/cli/command_line.h"
#include "runtime/job/job_options.h"

namespace sluice {

// Declares every job option on `line`, writing into `options`.
void add_job_options(CommandLine& line, RunOptions& options);

// Checks the options together once parsed, and derives what follows from
// them (micro-batch plans, the default restart strategy).
void finish_job_options(RunOptions& options);

// `sluice run`'s arguments: TOPOLOGY and job options in any order. With
// --help, prints the help and returns options with `help` set.
RunOptions parse_run_options(const std::vector<std::string>& args);

}  // namespace sluice
