// Asynchronous lookups whose promises a test completes by hand (or never),
// for the asynchronous operator's tests: each request's answer is
// `answer(x)` once the test completes it. Copies share their requests.
//
// Threading: any thread; one lock around the requests.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "runtime/core/future.h"

namespace sluice::testing {

struct HeldLookups {
  struct Shared {
    std::mutex mutex;
    std::vector<std::pair<int64_t, Promise<int64_t>>> promises;
    size_t completed = 0;
  };
  int64_t (*answer)(int64_t) = [](int64_t x) { return -x; };
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();

  Future<int64_t> operator()(const int64_t& x) const {
    std::lock_guard lock(shared->mutex);
    shared->promises.emplace_back(x, Promise<int64_t>());
    return shared->promises.back().second.future();
  }
  size_t issued() const {
    std::lock_guard lock(shared->mutex);
    return shared->promises.size();
  }
  // Completes the requests issued from `from` on; returns how many.
  size_t complete_from(size_t from) const {
    std::lock_guard lock(shared->mutex);
    for (size_t i = from; i < shared->promises.size(); ++i) {
      shared->promises[i].second.set_value(answer(shared->promises[i].first));
    }
    shared->completed = shared->promises.size();
    return shared->promises.size() - from;
  }
  // Completes the requests issued since the last completion.
  void complete_issued() const {
    size_t from;
    {
      std::lock_guard lock(shared->mutex);
      from = shared->completed;
    }
    complete_from(from);
  }
};

}  // namespace sluice::testing
