// Automatic recovery: runs a job and, when it fails with a retryable error,
// restarts it from its latest complete checkpoint under a restart strategy
// (fixed delay or exponential backoff, a bounded number of attempts).
// Usage and input errors are not retried: they would fail the same way.
//
// Threading: blocks the calling thread for the whole job, restarts included.
#pragma once

#include <string>

#include "runtime/executor/local_executor.h"

namespace sluice {

struct RestartStrategy {
  enum class Kind { kNone, kFixedDelay, kExponentialBackoff };
  Kind kind = Kind::kNone;
  int max_attempts = 3;          // restarts after the first run
  DurationMs delay = 1000;       // before the first restart
  DurationMs max_delay = 60000;  // cap of the exponential backoff

  // The wait before restart number `attempt` (1, 2, ...).
  DurationMs delay_before(int attempt) const;
  // Whether a job that failed with `kind`, restarted `restarts` times so
  // far, restarts again. Usage and input errors would fail the same way.
  bool allows_restart(ErrorKind kind, int restarts) const;
};

// Parses "none", "fixed-delay" or "exponential-backoff"; throws UsageError.
RestartStrategy::Kind parse_restart_kind(const std::string& text);

struct RecoveryResult {
  JobResult last;    // the final run
  int restarts = 0;  // how many times the job was restarted
};

// Runs `graph` and restarts it from the latest checkpoint in
// `options.checkpoint` after retryable failures. `options.plan.restore` may
// hold the state of a first restore; later ones are loaded here.
RecoveryResult run_with_restarts(const JobGraph& graph, LocalJobOptions options,
                                 const RestartStrategy& strategy);

}  // namespace sluice
