// Fault tolerance of the sluice binary: windowed-count on a throttled input
// with checkpoints (or in micro-batch mode), SIGKILLed at random moments
// several times and restarted each time with --restore latest, must commit
// exactly the output of an independent reference computation: nothing
// missing, nothing twice.
#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/process_runner.h"
#include "tests/windowed_count_reference.h"

namespace sluice {
namespace {

using testing::ChildProcess;
using testing::committed_lines;
using testing::TempDir;

constexpr int kLines = 40000;

std::vector<std::string> write_input(const std::string& path) {
  testing::WindowedCountCase c = testing::tumbling_case(kLines, 100);
  testing::write_file(path, c.csv);
  return c.expected;
}

// windowed-count on in.csv, throttled, with a checkpoint every 100 ms.
std::vector<std::string> checkpointed_windowed_count() {
  return {"run",
          "windowed-count",
          "--set",
          "input=in.csv",
          "--set",
          "output=out",
          "--set",
          "window=tumbling:100ms",
          "--set",
          "rate=20000",
          "--checkpoint-dir",
          "ck",
          "--checkpoint-interval",
          "100ms",
          "--parallelism",
          "2",
          "--log-level",
          "info"};
}

// The same job in micro-batch mode: batches of at most 1000 lines per split
// instead of checkpoints every 100 ms.
std::vector<std::string> micro_batch_windowed_count() {
  return {"run",
          "windowed-count",
          "--set",
          "input=in.csv",
          "--set",
          "output=out",
          "--set",
          "window=tumbling:100ms",
          "--set",
          "rate=20000",
          "--checkpoint-dir",
          "ck",
          "--mode",
          "microbatch",
          "--max-records-per-batch",
          "1000",
          "--parallelism",
          "2",
          "--log-level",
          "info"};
}

// What the log says when a checkpoint completed, or a batch committed.
constexpr const char* kCheckpointLine = "complete in";
constexpr const char* kBatchLine = " rows in (";

// Runs `args` until `checkpoints` checkpoints completed (log lines with
// `completed`), waits `extra_ms` more (a random moment to kill at), then
// SIGKILLs it.
void run_and_kill(const std::vector<std::string>& args, const std::string& dir, int checkpoints,
                  int extra_ms = 0, const char* completed = kCheckpointLine) {
  ChildProcess child(SLUICE_BINARY, args, dir);
  for (int i = 0; i < checkpoints; ++i) {
    ASSERT_TRUE(child.wait_for_line(completed, 30000)) << child.err();
  }
  // A random moment between checkpoints to kill at, not a wait for a condition.
  std::this_thread::sleep_for(std::chrono::milliseconds(extra_ms));  // sleep-ok: random kill moment
  child.kill_hard();
  EXPECT_EQ(child.wait(), 128 + 9) << "the job ended before it was killed";
}

std::vector<std::string> with(std::vector<std::string> args, std::vector<std::string> more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// Kills the job four times at random moments, restoring it each time, then
// lets it finish: the committed output must be exactly the reference.
void survive_repeated_sigkill(const std::vector<std::string>& args, const char* completed) {
  TempDir dir;
  std::vector<std::string> expected = write_input(dir.file("in.csv"));
  std::mt19937 rng(static_cast<unsigned>(std::random_device{}()));
  for (int round = 0; round < 4; ++round) {
    std::vector<std::string> round_args = args;
    if (round > 0) {
      round_args.push_back("--restore");
      round_args.push_back("latest");
    }
    run_and_kill(round_args, dir.path(), 1 + static_cast<int>(rng() % 3),
                 static_cast<int>(rng() % 100), completed);
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

TEST(Fault, WindowedCountSurvivesRepeatedSigkill) {
  survive_repeated_sigkill(checkpointed_windowed_count(), kCheckpointLine);
}

// Unaligned checkpoints store what was in flight and replay it on restore;
// a slow output keeps the channels full, so that there is some.
TEST(Fault, UnalignedCheckpointsSurviveRepeatedSigkill) {
  survive_repeated_sigkill(
      with(checkpointed_windowed_count(), {"--checkpoint-mode", "unaligned", "--channel-capacity",
                                           "2", "--set", "output-rate=2000"}),
      kCheckpointLine);
}

TEST(Fault, MicroBatchWindowedCountSurvivesRepeatedSigkill) {
  survive_repeated_sigkill(micro_batch_windowed_count(), kBatchLine);
}

// A batch planned before the crash runs again after the restore, at another
// parallelism, with the slices its logged plan holds: the plan is not
// written again, the batch commits as a replay, and the output is exact.
TEST(Fault, MicroBatchRunsAnUncommittedBatchAgainWithItsLoggedSlices) {
  TempDir dir;
  std::vector<std::string> expected = write_input(dir.file("in.csv"));
  std::vector<std::string> args = micro_batch_windowed_count();
  {
    ChildProcess child(SLUICE_BINARY, args, dir.path());
    ASSERT_TRUE(child.wait_for_line("batch 3:", 30000)) << child.err();
    ASSERT_TRUE(child.wait_for_line("batch 4 planned", 30000)) << child.err();
    child.kill_hard();
    EXPECT_EQ(child.wait(), 128 + 9) << "the job ended before it was killed";
  }
  const std::string plan_file = dir.file("ck/windowed-count/offsets/4");
  ASSERT_TRUE(std::filesystem::exists(plan_file));
  ASSERT_FALSE(std::filesystem::exists(dir.file("ck/windowed-count/commits/4")))
      << "batch 4 committed before the kill; the throttle should make it take 100 ms";
  const std::string plan = testing::read_file(plan_file);

  testing::ProcessResult restored = testing::run_process(
      SLUICE_BINARY, with(args, {"--restore", "latest", "--parallelism", "3"}), dir.path());
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  EXPECT_NE(restored.err.find("batches 4..4 were planned but not committed"), std::string::npos)
      << restored.err;
  EXPECT_EQ(testing::read_file(plan_file), plan);
  EXPECT_TRUE(std::filesystem::exists(dir.file("ck/windowed-count/commits/4")));
  std::string progress = testing::read_file(dir.file("ck/windowed-count/progress/batches.jsonl"));
  EXPECT_NE(progress.find(R"({"batch":4,"replayed":true,)"), std::string::npos) << progress;
  EXPECT_EQ(committed_lines(dir.file("out")), expected);
}

struct GoldenCase {
  std::string name;
  std::vector<std::string> run;  // the topology and its parameters
  std::string state;
  bool micro_batch = false;
  // What slows the checkpointed run down enough to be killed mid-way.
  std::vector<std::string> throttle = {"--set", "rate=20000"};
};

// A Nexmark join query on generated events, throttled by wall time.
GoldenCase nexmark_case(const std::string& query, const std::string& state, bool micro_batch) {
  return GoldenCase{"nexmark_" + query + "_" + state + (micro_batch ? "_microbatch" : ""),
                    {"run", "nexmark", "--set", "query=" + query, "--set", "events=300000"},
                    state,
                    micro_batch,
                    {"--set", "throughput=100000"}};
}

class GoldenTest : public ::testing::TestWithParam<GoldenCase> {};

// Parallelism 1 without checkpoints in continuous mode; then parallelism 2
// with checkpoints (or batches), killed, and restored at parallelism 3: the
// same output.
TEST_P(GoldenTest, CheckpointedAtTwoRestoredAtThreeMatchesParallelismOne) {
  TempDir dir;
  write_input(dir.file("in.csv"));
  const GoldenCase& c = GetParam();
  testing::ProcessResult plain = testing::run_process(
      SLUICE_BINARY, with(c.run, {"--set", "output=out1", "--parallelism", "1"}), dir.path());
  ASSERT_EQ(plain.exit_code, 0) << plain.err;

  std::vector<std::string> checkpointed = with(
      with(c.run, c.throttle),
      {"--set", "output=out", "--checkpoint-dir", "ck", "--state", c.state, "--log-level", "info"});
  checkpointed = with(checkpointed,
                      c.micro_batch ? std::vector<std::string>{"--mode", "microbatch",
                                                               "--max-records-per-batch", "700"}
                                    : std::vector<std::string>{"--checkpoint-interval", "100ms"});
  run_and_kill(with(checkpointed, {"--parallelism", "2"}), dir.path(), 3, 0,
               c.micro_batch ? kBatchLine : kCheckpointLine);
  testing::ProcessResult restored = testing::run_process(
      SLUICE_BINARY, with(checkpointed, {"--parallelism", "3", "--restore", "latest"}), dir.path());
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  std::vector<std::string> golden = committed_lines(dir.file("out1"));
  ASSERT_GT(golden.size(), 10u);
  EXPECT_EQ(committed_lines(dir.file("out")), golden);
}

INSTANTIATE_TEST_SUITE_P(
    Topologies, GoldenTest,
    ::testing::Values(
        GoldenCase{"windowed_count_memory",
                   {"run", "windowed-count", "--set", "input=in.csv", "--set",
                    "window=sliding:200ms:50ms"},
                   "memory"},
        GoldenCase{
            "windowed_count_rocksdb",
            {"run", "windowed-count", "--set", "input=in.csv", "--set", "window=session:3ms"},
            "rocksdb"},
        GoldenCase{"wordcount_rocksdb", {"run", "wordcount", "--set", "input=in.csv"}, "rocksdb"},
        GoldenCase{"microbatch_windowed_count_memory",
                   {"run", "windowed-count", "--set", "input=in.csv", "--set",
                    "window=sliding:200ms:50ms"},
                   "memory",
                   true},
        GoldenCase{
            "microbatch_windowed_count_rocksdb",
            {"run", "windowed-count", "--set", "input=in.csv", "--set", "window=session:3ms"},
            "rocksdb",
            true},
        GoldenCase{"microbatch_wordcount_rocksdb",
                   {"run", "wordcount", "--set", "input=in.csv"},
                   "rocksdb",
                   true},
        // Two-input operators: a keyed co-process function (q3) and a
        // window co-group (q8).
        nexmark_case("q3", "rocksdb", false), nexmark_case("q3", "memory", true),
        nexmark_case("q8", "memory", false), nexmark_case("q8", "rocksdb", true)),
    [](const auto& info) { return info.param.name; });

TEST(Fault, CorruptLatestCheckpointIsSkippedWithAWarning) {
  TempDir dir;
  std::vector<std::string> expected = write_input(dir.file("in.csv"));
  std::vector<std::string> args = checkpointed_windowed_count();
  run_and_kill(args, dir.path(), 3);
  // Flip a byte in a state file of the newest checkpoint.
  std::string newest;
  for (const auto& e : std::filesystem::directory_iterator(dir.file("ck/windowed-count"))) {
    std::string name = e.path().filename().string();
    if (name.rfind("chk-", 0) == 0 && std::filesystem::exists(e.path() / "_metadata") &&
        (newest.empty() || std::stoi(name.substr(4)) > std::stoi(newest.substr(4)))) {
      newest = name;
    }
  }
  ASSERT_FALSE(newest.empty());
  std::string state_file = dir.file("ck/windowed-count/" + newest + "/input-0.op");
  std::string bytes = testing::read_file(state_file);
  bytes[bytes.size() / 2] ^= 0x10;
  testing::write_file(state_file, bytes);

  testing::ProcessResult restored =
      testing::run_process(SLUICE_BINARY, with(args, {"--restore", "latest"}), dir.path());
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  EXPECT_NE(restored.err.find("skipping checkpoint " + newest.substr(4)), std::string::npos)
      << restored.err;
  EXPECT_NE(restored.err.find("checksum mismatch"), std::string::npos) << restored.err;
  EXPECT_EQ(committed_lines(dir.file("out")), expected);
}

}  // namespace
}  // namespace sluice
