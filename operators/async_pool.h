// A pool of threads for asynchronous lookups whose client library blocks:
// submit(fn) runs fn() on a pool thread and returns a Future of its result
// (or of the exception it threw), for an async_map function to return.
//
//   auto pool = std::make_shared<AsyncPool>(8);
//   stream.async_map("enrich", [pool](const Order& o) {
//     return pool->submit([o] { return Enriched{o, customers.fetch(o.customer)}; });
//   });
//
// Threading: submit() from any thread. The destructor waits for the
// functions already running and drops those not started; share one pool
// between subtasks through a shared_ptr so it outlives them.
#pragma once

#include <cstddef>
#include <exception>
#include <type_traits>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "runtime/core/future.h"

namespace sluice {

class AsyncPool {
 public:
  explicit AsyncPool(size_t threads) : pool_(threads) {}
  AsyncPool(const AsyncPool&) = delete;
  AsyncPool& operator=(const AsyncPool&) = delete;
  ~AsyncPool() {
    pool_.stop();
    pool_.join();
  }

  template <class Fn>
  Future<std::invoke_result_t<Fn&>> submit(Fn fn) {
    using T = std::invoke_result_t<Fn&>;
    Promise<T> promise;
    Future<T> future = promise.future();
    boost::asio::post(pool_, [promise, fn = std::move(fn)]() mutable {
      try {
        promise.set_value(fn());
      } catch (...) {
        promise.set_error(std::current_exception());
      }
    });
    return future;
  }

 private:
  boost::asio::thread_pool pool_;
};

}  // namespace sluice
