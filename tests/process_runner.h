// Runs the sluice binary as a child process for end-to-end tests and
// captures its exit code, stdout and stderr.
#pragma once

#include <string>
#include <vector>

namespace sluice::testing {

struct ProcessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `binary args...` in `workdir` and waits for it to exit.
ProcessResult run_process(const std::string& binary, const std::vector<std::string>& args,
                          const std::string& workdir);

// A child process whose stderr the test reads line by line, to wait for
// what it logs (with a bounded timeout) instead of sleeping. Its stdout goes
// to `stdout_path` when one is given (created or truncated), else nowhere.
class ChildProcess {
 public:
  ChildProcess(const std::string& binary, const std::vector<std::string>& args,
               const std::string& workdir, const std::string& stdout_path = "");
  ~ChildProcess();
  // Reads stderr until a line contains `text`; false on timeout or exit.
  bool wait_for_line(const std::string& text, int timeout_ms);
  void kill_hard();  // SIGKILL
  // Sends `signal`, e.g. SIGTERM to test a graceful stop.
  void send_signal(int signal);
  // Waits for the exit; returns the exit code (128 + signal when killed).
  int wait();
  const std::string& err() const { return err_; }

 private:
  int pid_ = -1;
  int err_fd_ = -1;
  std::string err_;
  size_t scanned_ = 0;
  bool exited_ = false;
  int exit_code_ = -1;
};

// Arms faults (runtime/core/fault_injection.h, the SLUICE_FAULTS grammar)
// in the child processes started while it lives.
class FaultsInChildren {
 public:
  explicit FaultsInChildren(const std::string& spec);
  ~FaultsInChildren();
  FaultsInChildren(const FaultsInChildren&) = delete;
  FaultsInChildren& operator=(const FaultsInChildren&) = delete;
};

// The lines of `text` that are not empty, in order.
std::vector<std::string> non_empty_lines(const std::string& text);

// The lines of every committed output file in `dir` (names starting with
// neither '.' nor '_'), sorted.
std::vector<std::string> committed_lines(const std::string& dir);

// A fresh directory under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void write_file(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);

}  // namespace sluice::testing
