// Deterministic fault injection for tests (RocksDB's sync points and fault
// injection file system are the model): named fault points in product code,
// and faults on the file-system calls of checkpoint storage and the file
// sink (runtime/core/file_io.h).
//
//   SLUICE_FAULT_POINT("checkpoint.metadata-written-not-renamed");
//
// A point does nothing until a test arms it. Armed, it can crash the process
// (SIGKILL, as a power cut or an OOM kill would), throw ExternalError (a
// failing step), or block until the test releases it (to hold a thread in a
// narrow window while the test acts). File faults make a file call fail with
// an errno (ENOSPC, EIO), tear a write (half the bytes reach the file, then
// the process is killed), or slow it down.
//
// Builds with SLUICE_FAULT_INJECTION (every build with tests) compile the
// checks in; with nothing armed a check is one relaxed atomic load. Other
// builds (the container image, -DSLUICE_BUILD_TESTS=OFF) compile them out.
//
// Arming, in process: arm_point() / arm_file_fault(), disarm_all(). In a
// child process: the environment variable SLUICE_FAULTS, read at start-up,
// a comma-separated list of
//   NAME=crash|throw|block[@N]            point NAME acts at its N-th hit (default 1)
//   fs.OP[:SUBSTRING]=ERROR[@N][*TIMES]   file call OP (create, write, sync,
//                                         rename, syncdir) on a path containing
//                                         SUBSTRING fails with ERROR (enospc, eio,
//                                         torn, slowMS) from its N-th hit on,
//                                         TIMES times (default 1; 0: always)
// A malformed SLUICE_FAULTS ends the process with a one-line message.
//
// Threading: every function is thread-safe; points may be hit from any
// thread. Lifecycle: process-wide; tests disarm what they armed.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "runtime/core/time.h"

namespace sluice::fault {

enum class PointAction {
  kCrash,  // SIGKILL this process
  kThrow,  // throw ExternalError("fault point NAME")
  kBlock,  // wait until release(NAME) (or the process dies)
};

enum class FileOp { kCreate, kWrite, kSync, kRename, kSyncDirectory };

struct FileFault {
  FileOp op = FileOp::kWrite;
  // Only paths containing this; empty: every path.
  std::string path_contains;
  // The errno the call fails with (ENOSPC, EIO, ...); 0 for none.
  int error = 0;
  // kWrite: write half the bytes, then SIGKILL the process (a torn write).
  bool torn = false;
  // Delay every matching call by this much (a slow disk).
  DurationMs delay_ms = 0;
  // The first `skip` matching calls pass untouched.
  int skip = 0;
  // How many matching calls fail after the skipped ones; 0: all of them.
  int times = 1;
};

// Arms point `name`: `action` at its (skip+1)-th hit, once.
void arm_point(const std::string& name, PointAction action, int skip = 0);
void arm_file_fault(FileFault fault);
// Disarms everything and releases blocked points.
void disarm_all();
// Lets threads blocked at `name` go on (and later hits pass).
void release(const std::string& name);
// How often point `name` was hit since it was armed (armed points only).
int hits(const std::string& name);
// Waits until a thread is blocked at `name`; false after `max_wait`.
bool wait_until_blocked(const std::string& name, std::chrono::milliseconds max_wait);
// Parses a SLUICE_FAULTS value and arms what it lists. Throws UsageError
// naming the bad entry.
void arm_from_spec(std::string_view spec);

namespace detail {
bool any_armed();
void hit(std::string_view name);
}  // namespace detail

// File faults for file_io.h: the errno the call must fail with (0: go on);
// may sleep first (a slow disk). A torn write returns -1 and sets `*bytes`
// to the length to write before calling crash_now().
int file_call(FileOp op, const std::string& path, size_t* bytes = nullptr);
// Called by file_io.h after the torn half of a write reached the file.
[[noreturn]] void crash_now(const std::string& why);

}  // namespace sluice::fault

#ifdef SLUICE_FAULT_INJECTION
#define SLUICE_FAULT_POINT(name)                                                  \
  do {                                                                            \
    if (::sluice::fault::detail::any_armed()) ::sluice::fault::detail::hit(name); \
  } while (false)
#else
#define SLUICE_FAULT_POINT(name) \
  do {                           \
  } while (false)
#endif
