#include "runtime/core/fault_injection.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/core/errors.h"

namespace sluice::fault {
namespace {

struct ArmedPoint {
  PointAction action = PointAction::kThrow;
  int skip = 0;
  int hits = 0;
  bool fired = false;
  bool released = false;
  int blocked = 0;  // threads waiting at it now
};

struct ArmedFile {
  FileFault fault;
  int matched = 0;
  int fired = 0;
};

struct Registry {
  std::mutex mutex;
  std::condition_variable changed;
  std::map<std::string, ArmedPoint, std::less<>> points;
  std::vector<ArmedFile> files;
};

std::atomic<bool> g_armed{false};

Registry& registry() {
  static Registry instance;
  return instance;
}

void update_armed_locked(const Registry& r) {
  g_armed.store(!r.points.empty() || !r.files.empty(), std::memory_order_release);
}

const char* op_name(FileOp op) {
  switch (op) {
    case FileOp::kCreate:
      return "create";
    case FileOp::kWrite:
      return "write";
    case FileOp::kSync:
      return "sync";
    case FileOp::kRename:
      return "rename";
    case FileOp::kSyncDirectory:
      return "syncdir";
  }
  return "?";
}

// "NAME@N": the name and N (1 when absent).
std::pair<std::string_view, int> split_count(std::string_view text, char mark,
                                             std::string_view entry) {
  size_t at = text.find(mark);
  if (at == std::string_view::npos) return {text, -1};
  int n = -1;
  std::string_view digits = text.substr(at + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || end != digits.data() + digits.size() || n < 0) {
    throw UsageError("SLUICE_FAULTS: bad count in '" + std::string(entry) + "'");
  }
  return {text.substr(0, at), n};
}

PointAction parse_action(std::string_view action, std::string_view entry) {
  if (action == "crash") return PointAction::kCrash;
  if (action == "throw") return PointAction::kThrow;
  if (action == "block") return PointAction::kBlock;
  throw UsageError("SLUICE_FAULTS: unknown action in '" + std::string(entry) +
                   "' (crash, throw or block)");
}

FileOp parse_op(std::string_view op, std::string_view entry) {
  for (FileOp candidate :
       {FileOp::kCreate, FileOp::kWrite, FileOp::kSync, FileOp::kRename, FileOp::kSyncDirectory}) {
    if (op == op_name(candidate)) return candidate;
  }
  throw UsageError("SLUICE_FAULTS: unknown file call in '" + std::string(entry) +
                   "' (create, write, sync, rename or syncdir)");
}

void parse_file_error(std::string_view error, FileFault& fault, std::string_view entry) {
  if (error == "enospc") {
    fault.error = ENOSPC;
  } else if (error == "eio") {
    fault.error = EIO;
  } else if (error == "torn") {
    fault.torn = true;
  } else if (error.substr(0, 4) == "slow") {
    std::string_view ms = error.substr(4);
    auto [end, ec] = std::from_chars(ms.data(), ms.data() + ms.size(), fault.delay_ms);
    if (ec != std::errc() || end != ms.data() + ms.size()) {
      throw UsageError("SLUICE_FAULTS: bad delay in '" + std::string(entry) + "' (slowMS)");
    }
  } else {
    throw UsageError("SLUICE_FAULTS: unknown file fault in '" + std::string(entry) +
                     "' (enospc, eio, torn or slowMS)");
  }
}

void arm_entry(std::string_view entry) {
  size_t eq = entry.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    throw UsageError("SLUICE_FAULTS: '" + std::string(entry) + "' is not NAME=ACTION");
  }
  std::string_view name = entry.substr(0, eq);
  auto [what, times] = split_count(entry.substr(eq + 1), '*', entry);
  auto [action, nth] = split_count(what, '@', entry);
  if (nth == 0)
    throw UsageError("SLUICE_FAULTS: hits count from 1 in '" + std::string(entry) + "'");
  int skip = nth > 0 ? nth - 1 : 0;
  if (name.substr(0, 3) != "fs.") {
    if (times >= 0)
      throw UsageError("SLUICE_FAULTS: '*' is for file faults: " + std::string(entry));
    arm_point(std::string(name), parse_action(action, entry), skip);
    return;
  }
  FileFault fault;
  std::string_view op = name.substr(3);
  if (size_t colon = op.find(':'); colon != std::string_view::npos) {
    fault.path_contains = std::string(op.substr(colon + 1));
    op = op.substr(0, colon);
  }
  fault.op = parse_op(op, entry);
  parse_file_error(action, fault, entry);
  fault.skip = skip;
  fault.times = times >= 0 ? times : 1;
  arm_file_fault(std::move(fault));
}

// Arms what SLUICE_FAULTS lists before main() runs.
struct ArmFromEnvironment {
  ArmFromEnvironment() {
    const char* spec = std::getenv("SLUICE_FAULTS");
    if (spec == nullptr || *spec == '\0') return;
    try {
      arm_from_spec(spec);
    } catch (const SluiceError& e) {
      std::fprintf(stderr, "%s\n", e.what());
      std::_Exit(2);
    }
  }
} g_arm_from_environment;

}  // namespace

void arm_point(const std::string& name, PointAction action, int skip) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  ArmedPoint& point = r.points[name];
  point = ArmedPoint{};
  point.action = action;
  point.skip = skip;
  update_armed_locked(r);
}

void arm_file_fault(FileFault fault) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  r.files.push_back(ArmedFile{std::move(fault), 0, 0});
  update_armed_locked(r);
}

void disarm_all() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  for (auto& [name, point] : r.points) point.released = true;
  r.points.clear();
  r.files.clear();
  update_armed_locked(r);
  r.changed.notify_all();
}

void release(const std::string& name) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  if (auto it = r.points.find(name); it != r.points.end()) it->second.released = true;
  r.changed.notify_all();
}

int hits(const std::string& name) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  auto it = r.points.find(name);
  return it == r.points.end() ? 0 : it->second.hits;
}

bool wait_until_blocked(const std::string& name, std::chrono::milliseconds max_wait) {
  Registry& r = registry();
  std::unique_lock lock(r.mutex);
  return r.changed.wait_for(lock, max_wait, [&] {
    auto it = r.points.find(name);
    return it != r.points.end() && it->second.blocked > 0;
  });
}

void arm_from_spec(std::string_view spec) {
  while (!spec.empty()) {
    size_t comma = spec.find(',');
    std::string_view entry = spec.substr(0, comma);
    if (!entry.empty()) arm_entry(entry);
    if (comma == std::string_view::npos) break;
    spec.remove_prefix(comma + 1);
  }
}

void crash_now(const std::string& why) {
  std::fprintf(stderr, "fault injection: %s: killing the process\n", why.c_str());
  std::fflush(stderr);
  ::kill(::getpid(), SIGKILL);
  std::_Exit(137);  // not reached
}

namespace detail {

bool any_armed() {
  return g_armed.load(std::memory_order_relaxed);
}

void hit(std::string_view name) {
  Registry& r = registry();
  std::unique_lock lock(r.mutex);
  auto it = r.points.find(name);
  if (it == r.points.end()) return;
  ArmedPoint& point = it->second;
  if (point.hits++ < point.skip || point.fired) return;
  point.fired = true;
  switch (point.action) {
    case PointAction::kCrash:
      lock.unlock();
      crash_now("fault point " + std::string(name));
    case PointAction::kThrow:
      throw ExternalError("fault point " + std::string(name));
    case PointAction::kBlock: {
      ++point.blocked;
      r.changed.notify_all();
      std::string key(name);
      r.changed.wait(lock, [&] {
        auto found = r.points.find(key);
        return found == r.points.end() || found->second.released;
      });
      if (auto found = r.points.find(key); found != r.points.end()) --found->second.blocked;
      return;
    }
  }
}

}  // namespace detail

int file_call(FileOp op, const std::string& path, size_t* bytes) {
  if (!detail::any_armed()) return 0;
  Registry& r = registry();
  DurationMs delay = 0;
  int error = 0;
  {
    std::lock_guard lock(r.mutex);
    for (ArmedFile& armed : r.files) {
      const FileFault& f = armed.fault;
      if (f.op != op || path.find(f.path_contains) == std::string::npos) continue;
      if (armed.matched++ < f.skip) continue;
      if (f.times > 0 && armed.fired >= f.times) continue;
      ++armed.fired;
      delay = std::max(delay, f.delay_ms);
      if (f.torn && bytes != nullptr) {
        *bytes /= 2;
        return -1;
      }
      if (f.error != 0) error = f.error;
    }
  }
  if (delay > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay));
  return error;
}

}  // namespace sluice::fault
