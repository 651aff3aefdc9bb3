// Every named fault point of the commit protocol, walked: windowed-count
// (the sluice binary) is killed exactly at one point, in continuous and in
// micro-batch mode, with the exactly-once file sink and the exactly-once
// Kafka sink; restored with --restore latest it must end with exactly the
// reference output. Random SIGKILLs (fault_test.cc) rarely hit these narrow
// windows; fault points hit them every time, and a point the run never
// reaches fails the test.
//
// Kafka output runs on the development broker, which shows the records of
// aborted transactions: there the check is that nothing is lost, nothing
// wrong appears, and no epoch is committed twice (each commit marker once);
// a real broker would hide the aborted copies.
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/kafka_process.h"
#include "tests/process_runner.h"
#include "tests/windowed_count_reference.h"

namespace sluice {
namespace {

using testing::ChildProcess;
using testing::ProcessResult;
using testing::TempDir;

enum class Sink { kFiles, kKafka };
enum class Mode { kContinuous, kMicroBatch };

struct Walk {
  const char* point;
  int hit;  // the hit that crashes
  Mode mode;
  Sink sink;
  // A second fault for the first restore (recovery's own points), or null.
  const char* then = nullptr;
};

std::string name_of(const ::testing::TestParamInfo<Walk>& info) {
  std::string name = fmt::format("{}_{}_{}", info.param.point,
                                 info.param.mode == Mode::kContinuous ? "continuous" : "microbatch",
                                 info.param.sink == Sink::kFiles ? "files" : "kafka");
  if (info.param.then != nullptr) name += std::string("_then_") + info.param.then;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

class CommitProtocol : public ::testing::TestWithParam<Walk> {
 protected:
  void SetUp() override {
    testing::write_file(dir_.file("in.csv"), case_.csv);
    if (GetParam().sink == Sink::kKafka) {
      broker_ = std::make_unique<testing::DevKafkaProcess>(
          dir_, std::vector<std::string>{"--topic", "out:3"});
      bootstraps_ = broker_->wait_ready();
      ASSERT_FALSE(bootstraps_.empty());
      kcat_ = std::make_unique<testing::Kcat>(bootstraps_, dir_.path());
      if (!kcat_->installed()) GTEST_SKIP() << "kcat (or timeout) is not installed";
    }
  }

  std::vector<std::string> job(bool restore) const {
    std::vector<std::string> args{"run",
                                  "windowed-count",
                                  "--set",
                                  "input=in.csv",
                                  "--set",
                                  "window=tumbling:100ms",
                                  "--set",
                                  "rate=20000",
                                  "--parallelism",
                                  "2",
                                  "--checkpoint-dir",
                                  "ck",
                                  "--log-level",
                                  "info"};
    if (GetParam().mode == Mode::kContinuous) {
      args.insert(args.end(), {"--checkpoint-interval", "100ms"});
    } else {
      args.insert(args.end(), {"--mode", "microbatch", "--max-records-per-batch", "1000"});
    }
    if (GetParam().sink == Sink::kFiles) {
      args.insert(args.end(), {"--set", "output=out"});
    } else {
      args.insert(args.end(),
                  {"--set", "output=kafka:out", "--set", "kafka.bootstrap=" + bootstraps_, "--set",
                   "kafka.guarantee=exactly-once"});
    }
    if (restore) args.insert(args.end(), {"--restore", "latest"});
    return args;
  }

  // Runs the job (restoring when asked) with `faults` armed; it must die
  // at the fault point.
  void crash_at(const std::string& faults, bool restore) {
    ProcessResult result;
    {
      testing::FaultsInChildren armed(faults);
      result = testing::run_process(SLUICE_BINARY, job(restore), dir_.path());
    }
    ASSERT_EQ(result.exit_code, 128 + 9) << "the run did not reach " << faults << ":\n"
                                         << result.err;
    EXPECT_NE(result.err.find("fault injection: fault point"), std::string::npos) << result.err;
  }

  std::vector<std::string> kafka_rows() const {
    ProcessResult consumed = kcat_->run({"-C", "-t", "out", "-o", "beginning", "-e", "-q", "-f",
                                         "%s\n", "-X", "fetch.wait.max.ms=10"});
    EXPECT_EQ(consumed.exit_code, 0) << consumed.err;
    return testing::non_empty_lines(consumed.out);
  }

  // Every commit marker (key and checkpoint id) of the output's sink, in
  // the marker topic of its default transactional.id prefix.
  std::vector<std::string> markers() const {
    ProcessResult consumed =
        kcat_->run({"-C", "-t", "sluice-windowed-count-out.sluice-commits", "-o", "beginning", "-e",
                    "-q", "-f", "%k=%s\n", "-X", "fetch.wait.max.ms=10"});
    EXPECT_EQ(consumed.exit_code, 0) << consumed.err;
    return testing::non_empty_lines(consumed.out);
  }

  void expect_exact_output() {
    if (GetParam().sink == Sink::kFiles) {
      std::vector<std::string> committed = testing::committed_lines(dir_.file("out"));
      EXPECT_EQ(committed.size(), case_.expected.size());
      EXPECT_EQ(committed, case_.expected);
      return;
    }
    std::vector<std::string> rows = kafka_rows();
    std::set<std::string> distinct(rows.begin(), rows.end());
    EXPECT_EQ(std::vector<std::string>(distinct.begin(), distinct.end()), case_.expected)
        << "lost or wrong rows";
    std::vector<std::string> committed = markers();
    std::set<std::string> unique(committed.begin(), committed.end());
    EXPECT_EQ(unique.size(), committed.size()) << "an epoch was committed twice";
    EXPECT_FALSE(committed.empty());
  }

  TempDir dir_;
  testing::WindowedCountCase case_ = testing::tumbling_case(20000, 100);
  std::unique_ptr<testing::DevKafkaProcess> broker_;
  std::string bootstraps_;
  std::unique_ptr<testing::Kcat> kcat_;
};

TEST_P(CommitProtocol, KilledAtTheFaultPointRestoresToTheExactOutput) {
  const Walk& walk = GetParam();
  crash_at(fmt::format("{}=crash@{}", walk.point, walk.hit), /*restore=*/false);
  if (walk.then != nullptr) crash_at(fmt::format("{}=crash", walk.then), /*restore=*/true);
  ProcessResult last = testing::run_process(SLUICE_BINARY, job(/*restore=*/true), dir_.path());
  ASSERT_EQ(last.exit_code, 0) << last.err;
  EXPECT_NE(last.err.find("final checkpoint"), std::string::npos) << last.err;
  expect_exact_output();
}

std::vector<Walk> walks() {
  std::vector<Walk> all;
  for (Mode mode : {Mode::kContinuous, Mode::kMicroBatch}) {
    for (Sink sink : {Sink::kFiles, Sink::kKafka}) {
      for (const auto& [point, hit] :
           std::vector<std::pair<const char*, int>>{{"checkpoint.metadata-written-not-renamed", 3},
                                                    {"checkpoint.complete-tasks-not-notified", 3},
                                                    {"snapshot.stored-not-acknowledged", 9},
                                                    {"checkpoint.retention", 4},
                                                    {"task.input-ended", 1}}) {
        all.push_back(Walk{point, hit, mode, sink});
      }
    }
    all.push_back(Walk{"file-sink.part-staged", 5, mode, Sink::kFiles});
    all.push_back(Walk{"file-sink.part-renamed", 3, mode, Sink::kFiles});
    all.push_back(Walk{"kafka-sink.epoch-flushed", 5, mode, Sink::kKafka});
    all.push_back(Walk{"kafka-sink.transaction-committed", 3, mode, Sink::kKafka});
    // Recovery publishes the epoch of a checkpoint whose sinks were never
    // told it completed, and dies right after; the next recovery finds its
    // marker and publishes nothing.
    all.push_back(Walk{"checkpoint.complete-tasks-not-notified", 3, mode, Sink::kKafka,
                       "kafka-sink.epoch-republished"});
    all.push_back(Walk{"checkpoint.complete-tasks-not-notified", 3, mode, Sink::kFiles,
                       "file-sink.part-renamed"});
  }
  all.push_back(Walk{"batch.planned-not-run", 4, Mode::kMicroBatch, Sink::kFiles});
  all.push_back(Walk{"batch.planned-not-run", 4, Mode::kMicroBatch, Sink::kKafka});
  return all;
}

INSTANTIATE_TEST_SUITE_P(Points, CommitProtocol, ::testing::ValuesIn(walks()), name_of);

// A faulty disk under checkpoint storage or the file sink (the fault
// injection file system of runtime/core/fault_injection.h): windowed-count
// to part files, continuous mode, must end with the exact output.
class StorageFaults : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_file(dir_.file("in.csv"), case_.csv); }

  ProcessResult run(const std::string& faults, std::vector<std::string> more = {}) {
    std::vector<std::string> args{"run",
                                  "windowed-count",
                                  "--set",
                                  "input=in.csv",
                                  "--set",
                                  "window=tumbling:100ms",
                                  "--set",
                                  "rate=20000",
                                  "--set",
                                  "output=out",
                                  "--parallelism",
                                  "2",
                                  "--checkpoint-dir",
                                  "ck",
                                  "--checkpoint-interval",
                                  "100ms",
                                  "--restart-delay",
                                  "50ms",
                                  "--log-level",
                                  "info"};
    args.insert(args.end(), more.begin(), more.end());
    testing::FaultsInChildren armed(faults);
    return testing::run_process(SLUICE_BINARY, args, dir_.path());
  }

  void expect_exact_output() {
    std::vector<std::string> committed = testing::committed_lines(dir_.file("out"));
    EXPECT_EQ(committed.size(), case_.expected.size());
    EXPECT_EQ(committed, case_.expected);
  }

  TempDir dir_;
  testing::WindowedCountCase case_ = testing::tumbling_case(20000, 100);
};

// Disk full while a checkpoint is written: that checkpoint is aborted, the
// job goes on, and the next checkpoints succeed once space is back.
TEST_F(StorageFaults, ADiskFullDuringACheckpointAbortsItAndTheJobGoesOn) {
  ProcessResult result = run("fs.write:/chk-=enospc*3");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  size_t aborted = result.err.find("aborted: ");
  ASSERT_NE(aborted, std::string::npos) << result.err;
  EXPECT_NE(result.err.find("No space left on device", aborted), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("complete in", aborted), std::string::npos) << "none succeeded after";
  EXPECT_EQ(result.err.find("restart 1 of"), std::string::npos) << "the job failed: " << result.err;
  expect_exact_output();
}

// Disk full under the output: the sink fails, the job restarts from its
// latest checkpoint, and nothing is lost or written twice.
TEST_F(StorageFaults, ADiskFullUnderTheOutputRestartsTheJobWithoutLoss) {
  ProcessResult result = run("fs.write:.inprogress=enospc@5");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("No space left on device"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("restart 1 of"), std::string::npos) << result.err;
  expect_exact_output();
}

// A failed fsync of a state file aborts its checkpoint, not the job.
TEST_F(StorageFaults, AFailedSyncOfAStateFileAbortsTheCheckpoint) {
  ProcessResult result = run("fs.sync:.keyed=eio*2");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("Input/output error"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("aborted"), std::string::npos) << result.err;
  expect_exact_output();
}

// A power cut halfway through writing checkpoint 3's metadata (the torn
// half reaches the disk, then the process dies): the checkpoint is not
// complete, and a restore resumes from the one before it.
TEST_F(StorageFaults, ATornMetadataWriteLeavesTheCheckpointBeforeIt) {
  ProcessResult torn = run("fs.write:_metadata=torn@3");
  ASSERT_EQ(torn.exit_code, 128 + 9) << torn.err;
  EXPECT_TRUE(std::filesystem::exists(dir_.file("ck/windowed-count/chk-3/_metadata.tmp")));
  EXPECT_FALSE(std::filesystem::exists(dir_.file("ck/windowed-count/chk-3/_metadata")));
  ProcessResult restored = run("", {"--restore", "latest"});
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  EXPECT_NE(restored.err.find("restoring checkpoint 2"), std::string::npos) << restored.err;
  expect_exact_output();
}

// A slow disk: checkpoints that take longer than their timeout are aborted;
// once the disk is fast again they complete.
TEST_F(StorageFaults, ASlowDiskTimesCheckpointsOutAndTheJobGoesOn) {
  ProcessResult result = run("fs.write:/chk-=slow300*4", {"--checkpoint-timeout", "150ms"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("aborted: timed out"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("final checkpoint"), std::string::npos) << result.err;
  expect_exact_output();
}

// The tasks wait for a final checkpoint; one that can never be written
// fails the attempt after three tries instead of keeping the job forever.
TEST_F(StorageFaults, AFinalCheckpointThatKeepsFailingFailsTheJob) {
  ProcessResult result = run("fs.create:_metadata=eio*0", {"--restart-attempts", "1"});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_NE(result.err.find("the job's final checkpoint failed 3 times"), std::string::npos)
      << result.err;
  EXPECT_TRUE(testing::committed_lines(dir_.file("out")).empty()) << "output without a checkpoint";
}

}  // namespace
}  // namespace sluice
