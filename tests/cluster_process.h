// A cluster of real sluice processes on loopback for tests: a job manager
// and task managers started as child processes, with what their logs say
// (ports, registrations) read from stderr with bounded waits.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/process_runner.h"

namespace sluice::testing {

// The number after `prefix` in the first line of `text` that has it.
inline int number_after(const std::string& text, const std::string& prefix) {
  size_t at = text.find(prefix);
  if (at == std::string::npos) return -1;
  return std::atoi(text.c_str() + at + prefix.size());
}

// The rest of the first line of `text` after `prefix`; empty without one.
inline std::string rest_of_line_after(const std::string& text, const std::string& prefix) {
  size_t at = text.find(prefix);
  if (at == std::string::npos) return "";
  at += prefix.size();
  return text.substr(at, text.find('\n', at) - at);
}

class ClusterProcesses {
 public:
  ClusterProcesses(std::string binary, std::string workdir)
      : binary_(std::move(binary)), workdir_(std::move(workdir)) {}

  // Starts the job manager (port 0: any) and waits until it listens.
  ChildProcess& start_jobmanager(int port = 0, const std::vector<std::string>& more = {}) {
    std::vector<std::string> args{
        "jobmanager",  "--port", std::to_string(port), "--checkpoint-dir", "ck",
        "--log-level", "info"};
    args.insert(args.end(), more.begin(), more.end());
    jobmanager_ = std::make_unique<ChildProcess>(binary_, args, workdir_);
    EXPECT_TRUE(jobmanager_->wait_for_line("job manager listening on port", 10000))
        << jobmanager_->err();
    port_ = number_after(jobmanager_->err(), "job manager listening on port ");
    return *jobmanager_;
  }

  // Starts task manager `id` and waits until the job manager registered it.
  ChildProcess& start_taskmanager(const std::string& id, int slots,
                                  const std::vector<std::string>& more = {}) {
    std::vector<std::string> args{
        "taskmanager", "--jobmanager", address(), "--slots", std::to_string(slots), "--id", id,
        "--log-level", "info"};
    args.insert(args.end(), more.begin(), more.end());
    taskmanagers_.push_back(std::make_unique<ChildProcess>(binary_, args, workdir_));
    EXPECT_TRUE(jobmanager_->wait_for_line("task manager " + id + " registered", 10000))
        << jobmanager_->err() << taskmanagers_.back()->err();
    return *taskmanagers_.back();
  }

  std::string address() const { return fmt::format("127.0.0.1:{}", port_); }
  int port() const { return port_; }
  ChildProcess& jobmanager() { return *jobmanager_; }
  ChildProcess& taskmanager(size_t i) { return *taskmanagers_.at(i); }
  void replace_jobmanager() { jobmanager_.reset(); }

  // `sluice submit TOPOLOGY ... --jobmanager ADDRESS --wait`, to the end
  // or for at most two minutes (then the exit code is timeout's 124).
  ProcessResult submit_and_wait(std::vector<std::string> args) {
    args.insert(args.begin(), {"120", binary_, "submit"});
    args.insert(args.end(), {"--jobmanager", address(), "--wait"});
    return run_process("/usr/bin/timeout", args, workdir_);
  }

  std::vector<std::string> submit_args(std::vector<std::string> args) const {
    args.insert(args.begin(), "submit");
    args.insert(args.end(), {"--jobmanager", address()});
    return args;
  }

 private:
  std::string binary_;
  std::string workdir_;
  int port_ = -1;
  std::unique_ptr<ChildProcess> jobmanager_;
  std::vector<std::unique_ptr<ChildProcess>> taskmanagers_;
};

}  // namespace sluice::testing
