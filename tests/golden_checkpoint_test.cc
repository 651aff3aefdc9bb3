// Golden checkpoints (tests/golden/): checkpoint storage and output
// directories that earlier versions of Sluice wrote and left as a crash
// leaves them (right after checkpoint 3 completed, before its sinks
// committed). This version must keep restoring them: the restored job
// commits what checkpoint 3 prepared, replays the rest, and ends with
// exactly the output of the input. A format change that breaks this needs
// a new format version that still reads the old one.
#include <filesystem>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/process_runner.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

// windowed-count's output for `csv` (event_time_ms,key,value lines) in
// 100 ms tumbling windows, computed here.
std::vector<std::string> expected_output(const std::string& csv) {
  std::map<std::pair<int64_t, std::string>, std::pair<int64_t, int64_t>> windows;
  std::istringstream in(csv);
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string time, key, value;
    std::getline(fields, time, ',');
    std::getline(fields, key, ',');
    std::getline(fields, value, ',');
    int64_t t = std::stoll(time);
    auto& w = windows[{t - t % 100, key}];
    ++w.first;
    w.second += std::stoll(value);
  }
  std::vector<std::string> rows;
  for (const auto& [k, v] : windows) {
    rows.push_back(
        fmt::format("{},{},{},{},{}", k.first, k.first + 100, k.second, v.first, v.second));
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

struct Golden {
  const char* directory;
  std::vector<std::string> mode;  // the job's options besides the common ones
};

class GoldenCheckpoint : public ::testing::TestWithParam<Golden> {};

TEST_P(GoldenCheckpoint, RestoresToTheExactOutput) {
  testing::TempDir dir;
  const std::string golden = std::string(SLUICE_SOURCE_DIR) + "/tests/golden/";
  fs::copy(golden + GetParam().directory, dir.path(), fs::copy_options::recursive);
  fs::copy_file(golden + "in.csv", dir.file("in.csv"));
  std::vector<std::string> args{"run",
                                "windowed-count",
                                "--set",
                                "input=in.csv",
                                "--set",
                                "output=out",
                                "--set",
                                "window=tumbling:100ms",
                                "--parallelism",
                                "2",
                                "--checkpoint-dir",
                                "ck",
                                "--restore",
                                "latest",
                                "--log-level",
                                "info"};
  args.insert(args.end(), GetParam().mode.begin(), GetParam().mode.end());
  testing::ProcessResult result = testing::run_process(SLUICE_BINARY, args, dir.path());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("restoring checkpoint 3"), std::string::npos) << result.err;
  std::vector<std::string> expected = expected_output(testing::read_file(dir.file("in.csv")));
  std::vector<std::string> committed = testing::committed_lines(dir.file("out"));
  EXPECT_EQ(committed.size(), expected.size());
  EXPECT_EQ(committed, expected);
}

INSTANTIATE_TEST_SUITE_P(
    Formats, GoldenCheckpoint,
    // v1: metadata format 1 and files checked with the legacy hash, whose
    // key groups the restored job keeps; v2: XXH3 key groups and checksums.
    ::testing::Values(
        Golden{"continuous-v1", {"--checkpoint-interval", "100ms"}},
        Golden{"microbatch-v1",
               {"--mode", "microbatch", "--max-records-per-batch", "100", "--state", "rocksdb"}},
        Golden{"continuous-v2", {"--checkpoint-interval", "100ms"}},
        Golden{"microbatch-v2",
               {"--mode", "microbatch", "--max-records-per-batch", "100", "--state", "rocksdb"}}),
    [](const ::testing::TestParamInfo<Golden>& info) {
      std::string name = info.param.directory;
      for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

}  // namespace
}  // namespace sluice
