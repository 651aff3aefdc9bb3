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
