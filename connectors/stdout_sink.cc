#include "connectors/stdout_sink.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "runtime/core/errors.h"

namespace sluice {
namespace {

// One lock for every stdout sink in the process: they share the stream.
std::mutex& stdout_mutex() {
  static std::mutex mutex;
  return mutex;
}

}  // namespace

StdoutLines::StdoutLines(const StdoutSinkOptions& options)
    : max_lines_(options.max_lines), stream_(options.stream ? options.stream : stdout) {}

uint64_t StdoutLines::claim(uint64_t wanted) {
  if (max_lines_ == 0) {
    printed_.fetch_add(wanted, std::memory_order_relaxed);
    return wanted;
  }
  uint64_t before = printed_.load(std::memory_order_relaxed);
  uint64_t granted = 0;
  do {
    granted = before >= max_lines_ ? 0 : std::min(wanted, max_lines_ - before);
  } while (!printed_.compare_exchange_weak(before, before + granted, std::memory_order_relaxed));
  suppressed_.fetch_add(wanted - granted, std::memory_order_relaxed);
  return granted;
}

void StdoutLines::print(std::string_view text) {
  std::lock_guard lock(stdout_mutex());
  size_t put = std::fwrite(text.data(), 1, text.size(), stream_);
  if (put != text.size() || std::fflush(stream_) != 0) {
    throw ExternalError(std::string("stdout sink: cannot write to standard output: ") +
                        std::strerror(errno));
  }
}

}  // namespace sluice
