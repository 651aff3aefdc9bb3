#include "runtime/executor/restarts.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>

#include "runtime/checkpoint/restore.h"
#include "runtime/core/logging.h"

namespace sluice {
namespace {

// Waits `ms`, returning early (false) when the job is cancelled meanwhile.
bool wait_unless_cancelled(DurationMs ms, const std::atomic<bool>* cancel) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
    if (cancel != nullptr && cancel->load()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min<DurationMs>(ms, 50)));
  }
  return cancel == nullptr || !cancel->load();
}

}  // namespace

bool RestartStrategy::allows_restart(ErrorKind failure, int restarts) const {
  bool retryable = failure != ErrorKind::kUsage && failure != ErrorKind::kInput &&
                   failure != ErrorKind::kCancelled;
  return retryable && kind != Kind::kNone && restarts < max_attempts;
}

DurationMs RestartStrategy::delay_before(int attempt) const {
  if (kind != Kind::kExponentialBackoff) return delay;
  DurationMs d = delay;
  for (int i = 1; i < attempt && d < max_delay; ++i) d *= 2;
  return std::min(d, max_delay);
}

RestartStrategy::Kind parse_restart_kind(const std::string& text) {
  if (text == "none") return RestartStrategy::Kind::kNone;
  if (text == "fixed-delay") return RestartStrategy::Kind::kFixedDelay;
  if (text == "exponential-backoff") return RestartStrategy::Kind::kExponentialBackoff;
  throw UsageError("--restart-strategy: '" + text +
                   "' is not none, fixed-delay or exponential-backoff");
}

RecoveryResult run_with_restarts(const JobGraph& graph, LocalJobOptions options,
                                 const RestartStrategy& strategy) {
  RecoveryResult recovery;
  std::optional<RestorePoint> restored;
  while (true) {
    recovery.last = run_local(graph, options);
    const std::optional<JobFailure>& failure = recovery.last.failure;
    if (!failure || !strategy.allows_restart(failure->kind, recovery.restarts)) {
      return recovery;
    }
    ++recovery.restarts;
    DurationMs delay = strategy.delay_before(recovery.restarts);
    log::runtime()->warn("job failed: {}; restarting in {} (attempt {} of {})", failure->message,
                         format_duration(delay), recovery.restarts, strategy.max_attempts);
    if (!wait_unless_cancelled(delay, options.cancel_flag)) return recovery;
    options.plan.restore = nullptr;
    if (options.checkpoint.enabled()) {
      try {
        restored =
            find_restore_point(options.checkpoint.directory, options.plan.job_name, "latest");
        for (const std::string& w : restored->warnings) log::runtime()->warn("{}", w);
        log::runtime()->warn("restarting from checkpoint {}", restored->metadata.id);
        options.plan.restore = &restored->operators;
        options.plan.key_hashing = restored->metadata.key_hashing;
        options.last_checkpoint_id = restored->metadata.id;
      } catch (const InputError&) {
        log::runtime()->warn("no complete checkpoint yet: restarting from the beginning");
      }
    }
  }
}

}  // namespace sluice
