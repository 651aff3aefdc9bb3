// The stop signals of the long-running development commands (dev-kafka,
// kafka-relay): SIGINT and SIGTERM are blocked in the calling thread and in
// every thread started while the object lives (librdkafka's, the relay's
// io thread), so that they stay pending until wait() takes one.
//
// Threading: construct, wait and destroy on the command's main thread,
// before it starts other threads.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <cstring>
#include <string>

#include "runtime/core/errors.h"

namespace sluice::topologies {

// SIGINT and SIGTERM blocked in this thread and in every thread started
// while it lives (librdkafka's), so that they stay pending for sigwait.
class BlockedStopSignals {
 public:
  BlockedStopSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    int error = pthread_sigmask(SIG_BLOCK, &set_, &previous_);
    if (error != 0) {
      throw ExternalError(std::string("cannot block signals: ") + std::strerror(error));
    }
  }
  BlockedStopSignals(const BlockedStopSignals&) = delete;
  BlockedStopSignals& operator=(const BlockedStopSignals&) = delete;
  ~BlockedStopSignals() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }

  // Blocks until SIGINT or SIGTERM arrives; returns it.
  int wait() const {
    int signal = 0;
    int error = sigwait(&set_, &signal);
    if (error != 0) {
      throw ExternalError(std::string("sigwait failed: ") + std::strerror(error));
    }
    return signal;
  }

 private:
  sigset_t set_{};
  sigset_t previous_{};
};

}  // namespace sluice::topologies
