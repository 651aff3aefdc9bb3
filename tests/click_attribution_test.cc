// click-attribution through the sluice binary (interval join, asynchronous
// lookup and broadcast state in one job), against a reference computed here
// with plain loops:
// - from files, in continuous and in micro-batch mode;
// - at parallelism 1; checkpointed at 2, SIGKILLed, restored at 3;
// - from three Kafka topics on the development broker, SIGKILLed three
//   times at random moments: the committed file output is exact (the mock
//   broker's limits, design section 9, do not touch the source side).
#include <chrono>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/kafka_process.h"
#include "tests/process_runner.h"

namespace sluice {
namespace {

using testing::ChildProcess;
using testing::DevKafkaProcess;
using testing::Kcat;
using testing::ProcessResult;
using testing::TempDir;

constexpr int64_t kStart = 1767225600000;
constexpr int64_t kWindow = 2000;  // attribution window, ms
constexpr int64_t kCampaigns = 5;

struct Line {
  int64_t time;
  std::string key;
  int64_t value;
};

struct Input {
  std::vector<Line> views, clicks, rules;
  std::vector<std::string> expected;
};

std::string csv(const std::vector<Line>& lines) {
  std::string out;
  for (const Line& l : lines) out += fmt::format("{},{},{}\n", l.time, l.key, l.value);
  return out;
}

// Views in time order; clicks up to 3 s after a view of the same user and
// ad (or of nothing), in time order; bids for the campaigns every few
// hundred ms, never two for one campaign at one time.
Input make_input(unsigned seed) {
  std::mt19937 rng(seed);
  Input in;
  int64_t t = kStart;
  for (int i = 0; i < 3000; ++i) {
    t += 1 + static_cast<int64_t>(rng() % 4);
    Line view{t, fmt::format("u{}", rng() % 20), static_cast<int64_t>(rng() % 30)};
    in.views.push_back(view);
    if (rng() % 2 == 0) {
      in.clicks.push_back(Line{t + static_cast<int64_t>(rng() % 3000),
                               rng() % 5 == 0 ? "u99" : view.key, view.value});
    }
  }
  std::sort(in.clicks.begin(), in.clicks.end(),
            [](const Line& a, const Line& b) { return a.time < b.time; });
  for (int64_t r = kStart; r < t + 3000; r += 100 + static_cast<int64_t>(rng() % 300)) {
    in.rules.push_back(Line{r, "campaign-" + std::to_string(rng() % kCampaigns),
                            static_cast<int64_t>(rng() % 50)});
  }
  // The reference: every (click, view) of one user and ad with the view in
  // the window before the click, at the bid in force at the click's time.
  for (const Line& c : in.clicks) {
    std::string campaign = "campaign-" + std::to_string(c.value % kCampaigns);
    int64_t bid = 0;
    for (const Line& r : in.rules) {
      if (r.key == campaign && r.time <= c.time) bid = r.value;  // rules are in time order
    }
    for (const Line& v : in.views) {
      if (v.key == c.key && v.value == c.value && v.time >= c.time - kWindow && v.time <= c.time) {
        in.expected.push_back(
            fmt::format("{},{},{},{},{},{}", c.time, c.key, c.value, v.time, campaign, bid));
      }
    }
  }
  std::sort(in.expected.begin(), in.expected.end());
  return in;
}

std::vector<std::string> job(const std::string& views, const std::string& clicks,
                             const std::string& rules, std::vector<std::string> more) {
  std::vector<std::string> args{
      "run",         "click-attribution",
      "--set",       "views=" + views,
      "--set",       "clicks=" + clicks,
      "--set",       "rules=" + rules,
      "--set",       "attribution-window=" + std::to_string(kWindow) + "ms",
      "--set",       "campaigns=" + std::to_string(kCampaigns),
      "--log-level", "info"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// Runs `args` until `checkpoints` checkpoints completed, then a random
// moment more, and SIGKILLs it.
void run_and_kill(const std::vector<std::string>& args, const std::string& dir, int checkpoints,
                  int extra_ms) {
  ChildProcess child(SLUICE_BINARY, args, dir);
  for (int i = 0; i < checkpoints; ++i) {
    ASSERT_TRUE(child.wait_for_line("complete in", 30000)) << child.err();
  }
  auto kill_moment = std::chrono::milliseconds(extra_ms);
  std::this_thread::sleep_for(kill_moment);  // sleep-ok: random kill moment
  child.kill_hard();
  EXPECT_EQ(child.wait(), 128 + 9) << "the job ended before it was killed";
}

class ClickAttribution : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::write_file(dir_.file("views.csv"), csv(input_.views));
    testing::write_file(dir_.file("clicks.csv"), csv(input_.clicks));
    testing::write_file(dir_.file("rules.csv"), csv(input_.rules));
    ASSERT_GT(input_.expected.size(), 1000u);
  }
  std::vector<std::string> file_job(std::vector<std::string> more) const {
    return job("views.csv", "clicks.csv", "rules.csv", std::move(more));
  }

  TempDir dir_;
  Input input_ = make_input(7);
};

TEST_F(ClickAttribution, BothModesGiveTheReference) {
  ProcessResult continuous = testing::run_process(
      SLUICE_BINARY, file_job({"--set", "output=out-c", "--parallelism", "2"}), dir_.path());
  ASSERT_EQ(continuous.exit_code, 0) << continuous.err;
  EXPECT_EQ(testing::committed_lines(dir_.file("out-c")), input_.expected);

  ProcessResult batches = testing::run_process(
      SLUICE_BINARY,
      file_job({"--set", "output=out-b", "--parallelism", "2", "--mode", "microbatch",
                "--max-records-per-batch", "500", "--checkpoint-dir", "ck-b"}),
      dir_.path());
  ASSERT_EQ(batches.exit_code, 0) << batches.err;
  EXPECT_EQ(testing::committed_lines(dir_.file("out-b")), input_.expected);
}

// Parallelism 1 plain; then 2 with checkpoints, killed, restored at 3.
TEST_F(ClickAttribution, CheckpointedAtTwoRestoredAtThreeMatchesParallelismOne) {
  ProcessResult plain = testing::run_process(
      SLUICE_BINARY, file_job({"--set", "output=out1", "--parallelism", "1"}), dir_.path());
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  ASSERT_EQ(testing::committed_lines(dir_.file("out1")), input_.expected);

  std::vector<std::string> checkpointed =
      file_job({"--set", "output=out", "--set", "rate=1500", "--checkpoint-dir", "ck",
                "--checkpoint-interval", "100ms", "--state", "rocksdb"});
  std::vector<std::string> first = checkpointed;
  first.insert(first.end(), {"--parallelism", "2"});
  run_and_kill(first, dir_.path(), 3, 0);
  checkpointed.insert(checkpointed.end(), {"--parallelism", "3", "--restore", "latest"});
  ProcessResult restored = testing::run_process(SLUICE_BINARY, checkpointed, dir_.path());
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  EXPECT_EQ(testing::committed_lines(dir_.file("out")), input_.expected);
}

// A lookup service slower than the timeout: every attempt times out, each
// is logged and counted, and after the third the job fails naming the
// operator, instead of dropping the click.
TEST_F(ClickAttribution, LookupsThatAlwaysTimeOutFailTheJobLoudly) {
  ProcessResult run = testing::run_process(
      SLUICE_BINARY,
      file_job({"--set", "output=out", "--set", "lookup-latency=300ms", "--set",
                "lookup-timeout=20ms", "--set", "lookup-threads=1", "--parallelism", "1"}),
      dir_.path());
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.err.find("operator 'campaign-lookup': asynchronous request timed out after 20 ms "
                         "(attempt 1 of 3); issuing it again"),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("job failed: operator 'campaign-lookup' (subtask 1/1): asynchronous "
                         "request timed out after 20 ms (attempt 3 of 3)"),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("asynchronous requests: "), std::string::npos) << run.err;
}

class ClickAttributionKafka : public ClickAttribution {
 protected:
  void SetUp() override {
    ClickAttribution::SetUp();
    bootstraps_ = broker_.wait_ready();
    ASSERT_FALSE(bootstraps_.empty());
    if (!kcat_.installed()) GTEST_SKIP() << "kcat (or timeout) is not installed";
    kcat_.bootstraps = bootstraps_;
    // Each topic's lines go to its partitions round robin, in order.
    for (const auto& [topic, lines, partitions] :
         {std::tuple{"views", &input_.views, 3}, std::tuple{"clicks", &input_.clicks, 3},
          std::tuple{"rules", &input_.rules, 1}}) {
      for (int p = 0; p < partitions; ++p) {
        std::vector<Line> part;
        for (size_t i = static_cast<size_t>(p); i < lines->size(); i += partitions) {
          part.push_back((*lines)[i]);
        }
        std::string file = dir_.file(fmt::format("{}-{}.csv", topic, p));
        testing::write_file(file, csv(part));
        ProcessResult produced =
            kcat_.run({"-P", "-t", topic, "-p", std::to_string(p), "-l", file});
        ASSERT_EQ(produced.exit_code, 0) << produced.err;
      }
    }
  }

  TempDir broker_dir_;
  DevKafkaProcess broker_{broker_dir_,
                          {"--topic", "views:3", "--topic", "clicks:3", "--topic", "rules:1"}};
  std::string bootstraps_;
  Kcat kcat_{"", dir_.path()};
};

TEST_F(ClickAttributionKafka, SigkilledJobCommitsExactOutput) {
  std::vector<std::string> args =
      job("kafka:views", "kafka:clicks", "kafka:rules",
          {"--set", "output=out", "--set", "kafka.bootstrap=" + bootstraps_, "--set",
           "kafka.stop=latest", "--set", "kafka.fetch.wait.max.ms=10", "--set", "rate=1500",
           "--checkpoint-dir", "ck", "--checkpoint-interval", "100ms", "--parallelism", "2"});
  std::mt19937 rng(static_cast<unsigned>(std::random_device{}()));
  std::vector<std::string> restore = args;
  restore.insert(restore.end(), {"--restore", "latest"});
  for (int round = 0; round < 3; ++round) {
    run_and_kill(round == 0 ? args : restore, dir_.path(), 1 + static_cast<int>(rng() % 3),
                 static_cast<int>(rng() % 100));
  }
  ProcessResult last = testing::run_process(SLUICE_BINARY, restore, dir_.path());
  ASSERT_EQ(last.exit_code, 0) << last.err;
  EXPECT_EQ(testing::committed_lines(dir_.file("out")), input_.expected);
}

}  // namespace
}  // namespace sluice
