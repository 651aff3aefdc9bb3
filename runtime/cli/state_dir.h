// The working directory of a job's RocksDB state: the one given with
// --state-dir, or a fresh temporary directory that is removed with the
// guard. Used on the thread that runs the job.
#pragma once

#include <string>

namespace sluice {

class JobStateDirectory {
 public:
  // `given` empty: make a temporary directory (removed by the destructor).
  explicit JobStateDirectory(const std::string& given);
  ~JobStateDirectory();
  JobStateDirectory(const JobStateDirectory&) = delete;
  JobStateDirectory& operator=(const JobStateDirectory&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool temporary_ = false;
};

}  // namespace sluice
