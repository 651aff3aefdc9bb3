// Test support for Kafka through processes: `sluice dev-kafka` as a child
// process, and kcat (an independent client) run with a bound on its time.
// Used by one test thread at a time.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/process_runner.h"

namespace sluice::testing {

inline constexpr int kDevKafkaReadyTimeoutMs = 30'000;

// The absolute path of `program` on PATH, or "" when it is not installed.
inline std::string find_program(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path == nullptr ? "/usr/bin:/bin" : path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string candidate = dir + "/" + program;
    if (!dir.empty() && access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// `sluice dev-kafka ARGS` in `dir`, its stdout in dir/stdout.
struct DevKafkaProcess {
  DevKafkaProcess(const TempDir& dir, std::vector<std::string> args)
      : stdout_path(dir.file("stdout")),
        child(
            SLUICE_BINARY,
            [&] {
              args.insert(args.begin(), "dev-kafka");
              return args;
            }(),
            dir.path(), stdout_path) {}

  // Waits for the ready line, which follows the bootstrap file and the
  // stdout line, and returns the stdout line (the bootstrap list).
  std::string wait_ready() {
    if (!child.wait_for_line("dev-kafka ready", kDevKafkaReadyTimeoutMs)) {
      ADD_FAILURE() << "no ready line; stderr:\n" << child.err();
      return "";
    }
    std::string out = read_file(stdout_path);
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
    return out.substr(0, out.find('\n'));
  }

  std::string stdout_path;
  ChildProcess child;
};

// kcat against one broker, each run bounded by `timeout` (a broken broker
// fails the test, never hangs it).
struct Kcat {
  Kcat(std::string bootstraps, std::string workdir)
      : kcat(find_program("kcat")),
        timeout(find_program("timeout")),
        bootstraps(std::move(bootstraps)),
        workdir(std::move(workdir)) {}

  bool installed() const { return !kcat.empty() && !timeout.empty(); }
  ProcessResult run(std::vector<std::string> args) const {
    args.insert(args.begin(), {"60", kcat, "-b", bootstraps});
    return run_process(timeout, args, workdir);
  }

  std::string kcat;
  std::string timeout;
  std::string bootstraps;
  std::string workdir;
};

}  // namespace sluice::testing
