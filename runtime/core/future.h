// Future<T> and Promise<T>: the result of an asynchronous call (a database or
// HTTP lookup) that another thread completes. Unlike std::future, a Future
// tells its reader when it is ready through a callback, so a task never
// blocks or polls to wait for it.
//
//   Promise<Row> promise;
//   Future<Row> row = promise.future();
//   client.lookup(key, [promise](Row r) mutable { promise.set_value(std::move(r)); });
//   return row;
//
// Threading: set_value / set_error from any thread, once; on_ready() and
// take() from the reader's thread. The callback runs on the thread that
// completes the promise (or in on_ready() when it is complete already), so it
// must be quick and thread-safe.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

namespace sluice {

namespace detail {

template <class T>
struct FutureState {
  std::mutex mutex;
  std::optional<T> value;
  std::exception_ptr error;
  bool ready = false;
  std::function<void()> on_ready;

  void complete(std::optional<T> v, std::exception_ptr e) {
    std::function<void()> callback;
    {
      std::lock_guard lock(mutex);
      if (ready) throw std::logic_error("promise completed twice");
      value = std::move(v);
      error = std::move(e);
      ready = true;
      callback = std::move(on_ready);
    }
    if (callback) callback();
  }
};

}  // namespace detail

template <class T>
class Future {
 public:
  using value_type = T;

  Future() = default;
  explicit Future(std::shared_ptr<detail::FutureState<T>> state) : state_(std::move(state)) {}

  bool valid() const { return state_ != nullptr; }
  bool ready() const {
    std::lock_guard lock(state_->mutex);
    return state_->ready;
  }
  // Calls `callback` once the result is there: now, if it is already.
  void on_ready(std::function<void()> callback) {
    {
      std::lock_guard lock(state_->mutex);
      if (!state_->ready) {
        state_->on_ready = std::move(callback);
        return;
      }
    }
    callback();
  }
  // The result of a ready future; rethrows the error it completed with.
  T take() {
    std::lock_guard lock(state_->mutex);
    if (!state_->ready) throw std::logic_error("future taken before it was ready");
    if (state_->error) std::rethrow_exception(state_->error);
    return std::move(*state_->value);
  }

 private:
  std::shared_ptr<detail::FutureState<T>> state_;
};

template <class T>
class Promise {
 public:
  Promise() : state_(std::make_shared<detail::FutureState<T>>()) {}

  Future<T> future() const { return Future<T>(state_); }
  void set_value(T value) { state_->complete(std::move(value), nullptr); }
  void set_error(std::exception_ptr error) { state_->complete(std::nullopt, std::move(error)); }

 private:
  std::shared_ptr<detail::FutureState<T>> state_;
};

// A future that is ready already (a cache hit).
template <class T>
Future<T> ready_future(T value) {
  Promise<T> promise;
  promise.set_value(std::move(value));
  return promise.future();
}

}  // namespace sluice
