// Fault tolerance of the sluice binary: windowed-count on a throttled input
// with checkpoints, SIGKILLed at random moments several times and restarted
// each time with --restore latest, must commit exactly the output of an
// independent reference computation: nothing missing, nothing twice.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "tests/process_runner.h"

namespace sluice {
namespace {

using testing::ChildProcess;
using testing::committed_lines;
using testing::TempDir;

constexpr int kLines = 40000;

std::vector<std::string> write_input(const std::string& path) {
  std::map<std::tuple<int64_t, std::string>, std::pair<int64_t, int64_t>> windows;
  std::string csv;
  std::mt19937 rng(99);
  for (int i = 0; i < kLines; ++i) {
    int64_t t = 1767225600000 + i;  // in order: nothing is late
    std::string key = fmt::format("k{}", rng() % 10);
    int64_t value = static_cast<int64_t>(rng() % 1000);
    csv += fmt::format("{},{},{}\n", t, key, value);
    auto& w = windows[{t - t % 100, key}];
    ++w.first;
    w.second += value;
  }
  testing::write_file(path, csv);
  std::vector<std::string> expected;
  for (const auto& [k, v] : windows) {
    expected.push_back(fmt::format("{},{},{},{},{}", std::get<0>(k), std::get<0>(k) + 100,
                                   std::get<1>(k), v.first, v.second));
  }
  std::sort(expected.begin(), expected.end());
  return expected;
}

TEST(Fault, WindowedCountSurvivesRepeatedSigkill) {
  TempDir dir;
  std::vector<std::string> expected = write_input(dir.file("in.csv"));
  std::vector<std::string> args = {
      "run", "windowed-count", "--set", "input=in.csv", "--set", "output=out", "--set",
      "window=tumbling:100ms", "--set", "rate=20000", "--checkpoint-dir", "ck",
      "--checkpoint-interval", "100ms", "--parallelism", "2", "--log-level", "info"};
  std::mt19937 rng(static_cast<unsigned>(std::random_device{}()));
  for (int round = 0; round < 4; ++round) {
    std::vector<std::string> round_args = args;
    if (round > 0) {
      round_args.push_back("--restore");
      round_args.push_back("latest");
    }
    ChildProcess child(SLUICE_BINARY, round_args, dir.path());
    int checkpoints = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < checkpoints; ++i) {
      ASSERT_TRUE(child.wait_for_line("complete in", 30000)) << child.err();
    }
    // sleep-ok: a random moment between checkpoints to kill at, not a wait for a condition
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 100));
    child.kill_hard();
    EXPECT_EQ(child.wait(), 128 + 9) << "the job ended before it was killed";
  }
  std::vector<std::string> restore_args = args;
  restore_args.push_back("--restore");
  restore_args.push_back("latest");
  testing::ProcessResult last = testing::run_process(SLUICE_BINARY, restore_args, dir.path());
  ASSERT_EQ(last.exit_code, 0) << last.err;
  std::vector<std::string> committed = committed_lines(dir.file("out"));
  EXPECT_EQ(committed.size(), expected.size());
  EXPECT_EQ(committed, expected);
}

}  // namespace
}  // namespace sluice
