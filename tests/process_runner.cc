#include "tests/process_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace sluice::testing {

namespace fs = std::filesystem;

// Forks `binary args...` in `workdir` with stdout and stderr on the given
// descriptors; returns the child's pid.
pid_t spawn(const std::string& binary, const std::vector<std::string>& args,
            const std::string& workdir, int out_fd, int err_fd, int close_fd = -1) {
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid > 0) return pid;
  dup2(out_fd, STDOUT_FILENO);
  dup2(err_fd, STDERR_FILENO);
  if (close_fd >= 0) close(close_fd);
  if (chdir(workdir.c_str()) != 0) _exit(126);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execv(binary.c_str(), argv.data());
  _exit(127);
}

std::vector<std::string> non_empty_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

FaultsInChildren::FaultsInChildren(const std::string& spec) {
  setenv("SLUICE_FAULTS", spec.c_str(), 1);
}

FaultsInChildren::~FaultsInChildren() {
  unsetenv("SLUICE_FAULTS");
}

int exit_code_of(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

ProcessResult run_process(const std::string& binary, const std::vector<std::string>& args,
                          const std::string& workdir) {
  TempDir capture;
  std::string out_path = capture.file("stdout");
  std::string err_path = capture.file("stderr");
  int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  pid_t pid = spawn(binary, args, workdir, out, err);
  close(out);
  close(err);
  int status = 0;
  waitpid(pid, &status, 0);
  ProcessResult result;
  result.exit_code = exit_code_of(status);
  result.out = read_file(out_path);
  result.err = read_file(err_path);
  return result;
}

ChildProcess::ChildProcess(const std::string& binary, const std::vector<std::string>& args,
                           const std::string& workdir, const std::string& stdout_path) {
  int out = stdout_path.empty()
                ? open("/dev/null", O_WRONLY | O_CLOEXEC)
                : open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) throw std::runtime_error("cannot open the child's stdout");
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  pid_ = spawn(binary, args, workdir, out, fds[1], fds[0]);
  close(out);
  close(fds[1]);
  err_fd_ = fds[0];
}

ChildProcess::~ChildProcess() {
  if (!exited_) {
    kill_hard();
    wait();
  }
  if (err_fd_ >= 0) close(err_fd_);
}

bool ChildProcess::wait_for_line(const std::string& text, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    size_t found = err_.find(text, scanned_);
    if (found != std::string::npos) {
      size_t end = err_.find('\n', found);
      scanned_ = end == std::string::npos ? err_.size() : end + 1;
      return true;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return false;
    pollfd p{err_fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char buf[4096];
    ssize_t n = read(err_fd_, buf, sizeof(buf));
    if (n <= 0) return false;  // the child closed stderr: it exited
    err_.append(buf, static_cast<size_t>(n));
  }
}

void ChildProcess::kill_hard() {
  if (pid_ > 0 && !exited_) ::kill(pid_, SIGKILL);
}

void ChildProcess::send_signal(int signal) {
  if (pid_ > 0 && !exited_) ::kill(pid_, signal);
}

int ChildProcess::wait() {
  if (exited_) return exit_code_;
  // Drain stderr so a child blocked on a full pipe can exit.
  char buf[4096];
  ssize_t n;
  while ((n = read(err_fd_, buf, sizeof(buf))) > 0) err_.append(buf, static_cast<size_t>(n));
  int status = 0;
  waitpid(pid_, &status, 0);
  exited_ = true;
  exit_code_ = exit_code_of(status);
  return exit_code_;
}

std::vector<std::string> committed_lines(const std::string& dir) {
  std::vector<std::string> lines;
  if (!fs::exists(dir)) return lines;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.' || name[0] == '_') continue;
    std::istringstream in(read_file(entry.path().string()));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

TempDir::TempDir() {
  std::random_device rd;
  path_ = (fs::temp_directory_path() /
           ("sluice-test-" + std::to_string(getpid()) + "-" + std::to_string(rd())))
              .string();
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace sluice::testing
