// The working directory of a job's RocksDB state: the one given with
// --state-dir, or a fresh temporary directory that is removed with the
// guard. Used on the thread that runs the job.
//
// A process killed with SIGKILL never runs the destructor, so a temporary
// directory holds an `.owner` file that its process keeps locked (flock)
// while it lives. Making a new one first removes the sluice-state-*
// directories beside it whose lock is free (their owner died), unless
// their lock file is younger than a few seconds (it may be about to be
// locked). Directories without an owner file are left alone.
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

  // Removes the temporary state directories in `parent` that SIGKILLed
  // processes left behind; returns how many.
  static int remove_abandoned(const std::string& parent);

 private:
  std::string path_;
  bool temporary_ = false;
  int owner_fd_ = -1;
};

}  // namespace sluice
