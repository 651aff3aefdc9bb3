// windowed-count through Kafka, with real processes on loopback: a
// `sluice dev-kafka` broker, kcat as the independent client that produces
// the input and reads the output, and the job SIGKILLed and restored.
//
// What the mock broker cannot prove (design section 9): it shows aborted
// and open transactions to every reader, so exactly-once Kafka output can be
// checked for loss and for wrong records, not for duplicates left by
// aborted transactions; a real broker with read_committed hides those. The
// exact no-loss/no-duplicate check of the Kafka *source* is made through the
// file sink, whose committed output is exact.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "tests/cluster_process.h"
#include "tests/http_client.h"
#include "tests/kafka_process.h"
#include "tests/process_runner.h"
#include "tests/test_support.h"
#include "tests/windowed_count_reference.h"

namespace sluice {
namespace {

using testing::ChildProcess;
using testing::DevKafkaProcess;
using testing::Kcat;
using testing::ProcessResult;
using testing::TempDir;

constexpr int kLines = 40000;

// Micro-batch mode, with a checkpoint directory and small batches.
std::vector<std::string> micro_batches(std::vector<std::string> more) {
  std::vector<std::string> args{"--checkpoint-dir",        "ck",  "--mode", "microbatch",
                                "--max-records-per-batch", "1500"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

class KafkaJobs : public ::testing::Test {
 protected:
  void SetUp() override {
    bootstraps_ = broker_.wait_ready();
    ASSERT_FALSE(bootstraps_.empty());
    if (!kcat_.installed()) GTEST_SKIP() << "kcat (or timeout) is not installed";
    kcat_.bootstraps = bootstraps_;
    // Line i goes to partition i % 3, so each partition holds a third, in
    // order.
    std::vector<std::string> parts(3);
    std::vector<std::string> lines = testing::non_empty_lines(case_.csv);
    for (size_t i = 0; i < lines.size(); ++i) parts[i % 3] += lines[i] + "\n";
    for (int p = 0; p < 3; ++p) {
      std::string file = dir_.file("in-" + std::to_string(p) + ".csv");
      testing::write_file(file, parts[static_cast<size_t>(p)]);
      ProcessResult produced = kcat_.run({"-P", "-t", "in", "-p", std::to_string(p), "-l", file});
      ASSERT_EQ(produced.exit_code, 0) << produced.err;
    }
  }

  std::vector<std::string> job(std::vector<std::string> more) const {
    std::vector<std::string> args{"run",           "windowed-count",
                                  "--set",         "input=kafka:in",
                                  "--set",         "kafka.bootstrap=" + bootstraps_,
                                  "--set",         "kafka.stop=latest",
                                  "--set",         "kafka.fetch.wait.max.ms=10",
                                  "--set",         "window=tumbling:100ms",
                                  "--parallelism", "2",
                                  "--log-level",   "info"};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }

  std::vector<std::string> read_output_topic() const {
    ProcessResult consumed = kcat_.run({"-C", "-t", "out", "-o", "beginning", "-e", "-q", "-f",
                                        "%k|%s\n", "-X", "fetch.wait.max.ms=10"});
    EXPECT_EQ(consumed.exit_code, 0) << consumed.err;
    std::vector<std::string> values;
    for (const std::string& line : testing::non_empty_lines(consumed.out)) {
      std::string key = line.substr(0, line.find('|'));
      std::string value = line.substr(line.find('|') + 1);
      // Keyed by one of the value's fields (the window's key, the word).
      EXPECT_NE(("," + value + ",").find("," + key + ","), std::string::npos) << line;
      values.push_back(value);
    }
    std::sort(values.begin(), values.end());
    return values;
  }

  // Runs `args` until `checkpoints` checkpoints completed (log lines with
  // `completed`), then a random moment more, and SIGKILLs it.
  void run_and_kill(const std::vector<std::string>& args, int checkpoints, int extra_ms,
                    const char* completed) {
    ChildProcess child(SLUICE_BINARY, args, dir_.path());
    for (int i = 0; i < checkpoints; ++i) {
      ASSERT_TRUE(child.wait_for_line(completed, 30000)) << child.err();
    }
    auto kill_moment = std::chrono::milliseconds(extra_ms);
    std::this_thread::sleep_for(kill_moment);  // sleep-ok: random kill moment
    child.kill_hard();
    EXPECT_EQ(child.wait(), 128 + 9) << "the job ended before it was killed";
  }

  // Three SIGKILLs at random moments, each run restored from the latest
  // checkpoint (or committed batch), then a last run to the end.
  void run_with_kills(const std::vector<std::string>& args, const char* completed = "complete in") {
    std::mt19937 rng(static_cast<unsigned>(std::random_device{}()));
    std::vector<std::string> restore = args;
    restore.insert(restore.end(), {"--restore", "latest"});
    for (int round = 0; round < 3; ++round) {
      run_and_kill(round == 0 ? args : restore, 1 + static_cast<int>(rng() % 3),
                   static_cast<int>(rng() % 100), completed);
    }
    ProcessResult last = testing::run_process(SLUICE_BINARY, restore, dir_.path());
    ASSERT_EQ(last.exit_code, 0) << last.err;
  }

  // The job reads Kafka without end (kafka.stop=never) in the mode `mode`
  // gives; once it has read every record, a stop with drain over the REST
  // API must give exactly the bounded run's output.
  void drain_equals_bounded_run(std::vector<std::string> mode) {
    drain_equals_bounded_run(std::move(mode), case_.expected);
  }
  void drain_equals_bounded_run(std::vector<std::string> mode,
                                const std::vector<std::string>& expected) {
    ASSERT_FALSE(expected.empty());
    mode.insert(mode.end(), {"--set", "output=out", "--rest-port", "0"});
    ChildProcess child(SLUICE_BINARY, unbounded(job(mode)), dir_.path());
    int rest = rest_port_of(child);
    auto records_read = [&] { return sources_records_out(rest); };
    ASSERT_TRUE(testing::eventually([&] { return records_read() == kLines; }))
        << records_read() << " of " << kLines << " read";
    EXPECT_LT(testing::committed_lines(dir_.file("out")).size(), expected.size())
        << "the last windows are still open before the drain";
    auto stopped =
        testing::http_request(rest, "POST", "/jobs/windowed-count/stop", R"({"drain": true})");
    EXPECT_EQ(stopped.status, 202) << stopped.body;
    EXPECT_EQ(child.wait(), 0) << child.err();
    std::vector<std::string> committed = testing::committed_lines(dir_.file("out"));
    EXPECT_EQ(committed.size(), expected.size());
    EXPECT_EQ(committed, expected);
  }

  // The job (RocksDB, incremental checkpoints), in the mode `mode` gives,
  // reads Kafka without end at a limited rate and is stopped midway; a job
  // at parallelism 3 on the memory backend resumes from the moved
  // savepoint, its checkpoint directory gone, and reads to the end: the
  // committed output must be exactly the bounded run's.
  void stop_and_resume_elsewhere(std::vector<std::string> mode) {
    std::vector<std::string> first = mode;
    first.insert(first.end(), {"--set", "output=out", "--set", "rate=20000", "--state", "rocksdb",
                               "--rest-port", "0"});
    ChildProcess child(SLUICE_BINARY, unbounded(job(first)), dir_.path());
    int rest = rest_port_of(child);
    ASSERT_TRUE(testing::eventually([&] { return sources_records_out(rest) >= kLines / 3; }))
        << sources_records_out(rest) << " of " << kLines << " read";
    auto stopped = testing::http_request(rest, "POST", "/jobs/windowed-count/stop", "{}");
    EXPECT_EQ(stopped.status, 202) << stopped.body;
    ASSERT_EQ(child.wait(), 0) << child.err();
    std::string savepoint = testing::rest_of_line_after(child.err(), "resume with --restore ");
    ASSERT_FALSE(savepoint.empty()) << child.err();

    std::vector<std::string> before = testing::committed_lines(dir_.file("out"));
    EXPECT_LT(before.size(), case_.expected.size()) << "the job was stopped midway";
    EXPECT_TRUE(
        std::includes(case_.expected.begin(), case_.expected.end(), before.begin(), before.end()))
        << "the stop committed lines the reference lacks";

    std::filesystem::rename(savepoint, dir_.file("moved"));
    std::filesystem::remove_all(dir_.file("ck"));
    std::vector<std::string> resume = mode;
    resume.insert(resume.end(), {"--checkpoint-dir", "ck2", "--set", "output=out", "--parallelism",
                                 "3", "--restore", "moved"});
    ProcessResult resumed = testing::run_process(SLUICE_BINARY, job(resume), dir_.path());
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    std::vector<std::string> committed = testing::committed_lines(dir_.file("out"));
    EXPECT_EQ(committed.size(), case_.expected.size());
    EXPECT_EQ(committed, case_.expected);
  }

  static std::vector<std::string> unbounded(std::vector<std::string> args) {
    std::replace(args.begin(), args.end(), std::string("kafka.stop=latest"),
                 std::string("kafka.stop=never"));
    return args;
  }

  static int rest_port_of(ChildProcess& child) {
    const std::string prefix = "dashboard and REST API at http://127.0.0.1:";
    EXPECT_TRUE(child.wait_for_line(prefix, 30000)) << child.err();
    return testing::number_after(child.err(), prefix);
  }

  // What the sources of the job `sluice run` serves on REST port `rest`
  // have emitted.
  static uint64_t sources_records_out(int rest) {
    nlohmann::json job = testing::http_request(rest, "GET", "/jobs/windowed-count").json();
    uint64_t read = 0;
    for (const nlohmann::json& v : job["vertices"]) {
      if (v["source"].get<bool>()) read += v["metrics"]["records-out"].get<uint64_t>();
    }
    return read;
  }

  TempDir dir_;
  DevKafkaProcess broker_{dir_, {"--topic", "in:3", "--topic", "out:3"}};
  std::string bootstraps_;
  Kcat kcat_{"", dir_.path()};
  testing::WindowedCountCase case_ = testing::tumbling_case(kLines, 100);
};

// On a cluster: the sources' partitions and offsets, the windows and the
// exactly-once file sink's commits move to a new task manager after a
// SIGKILL, and the committed output is exact.
TEST_F(KafkaJobs, ClusterSurvivesATaskManagerSigkillReadingKafka) {
  testing::ClusterProcesses cluster(SLUICE_BINARY, dir_.path());
  ChildProcess& jm = cluster.start_jobmanager();
  cluster.start_taskmanager("tm-1", 2);
  ChildProcess& tm2 = cluster.start_taskmanager("tm-2", 2);
  std::vector<std::string> args =
      job({"--set", "output=out", "--set", "rate=10000", "--checkpoint-interval", "100ms",
           "--parallelism", "3", "--restart-delay", "100ms"});
  args.erase(args.begin());  // "run"
  args.push_back("--wait");
  ChildProcess submit(SLUICE_BINARY, cluster.submit_args(args), dir_.path());
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(jm.wait_for_line("complete in", 30000)) << jm.err();
  tm2.kill_hard();
  ASSERT_TRUE(jm.wait_for_line("task manager tm-2 lost", 15000)) << jm.err();
  cluster.start_taskmanager("tm-3", 2);
  EXPECT_EQ(submit.wait(), 0) << submit.err() << jm.err();
  std::vector<std::string> committed = testing::committed_lines(dir_.file("out"));
  EXPECT_EQ(committed.size(), case_.expected.size());
  EXPECT_EQ(committed, case_.expected);
}

// `sluice rescale` during a Kafka-to-Kafka exactly-once job on a cluster:
// from 2 to 3 subtasks, then to 1. Each rescale stops the job with a
// savepoint (its sinks commit it) and resumes it from there at the new
// parallelism; the output topic holds exactly the reference results. The
// stops abort only empty transactions, so the mock broker, which shows
// aborted records, can check this output exactly.
TEST_F(KafkaJobs, RescalingARunningJobKeepsItsKafkaOutputExact) {
  testing::ClusterProcesses cluster(SLUICE_BINARY, dir_.path());
  ChildProcess& jm = cluster.start_jobmanager();
  cluster.start_taskmanager("tm-1", 2);
  cluster.start_taskmanager("tm-2", 2);
  std::vector<std::string> args =
      job({"--set", "output=kafka:out", "--set", "kafka.guarantee=exactly-once", "--set",
           "rate=4000", "--state", "rocksdb", "--checkpoint-interval", "100ms"});
  args.erase(args.begin());  // "run"
  args.push_back("--wait");
  ChildProcess submit(SLUICE_BINARY, cluster.submit_args(args), dir_.path());
  for (int parallelism : {3, 1}) {
    ASSERT_TRUE(jm.wait_for_line("complete in", 30000)) << jm.err();
    ProcessResult rescaled =
        testing::run_process(SLUICE_BINARY,
                             {"rescale", "windowed-count-1", std::to_string(parallelism),
                              "--jobmanager", cluster.address()},
                             dir_.path());
    ASSERT_EQ(rescaled.exit_code, 0) << rescaled.err << jm.err();
    EXPECT_NE(rescaled.err.find("rescaled to parallelism " + std::to_string(parallelism)),
              std::string::npos)
        << rescaled.err;
  }
  EXPECT_EQ(submit.wait(), 0) << submit.err() << jm.err();
  EXPECT_TRUE(jm.wait_for_line("attempt 2: all 2 tasks running", 10000)) << jm.err();
  EXPECT_EQ(read_output_topic(), case_.expected);
}

// Transactions across processes: each task manager's sink subtasks commit
// their transactions when the job manager's coordinator completes a
// checkpoint.
TEST_F(KafkaJobs, ClusterWritesKafkaExactlyOnce) {
  testing::ClusterProcesses cluster(SLUICE_BINARY, dir_.path());
  cluster.start_jobmanager();
  cluster.start_taskmanager("tm-1", 2);
  cluster.start_taskmanager("tm-2", 2);
  std::vector<std::string> args =
      job({"--set", "output=kafka:out", "--set", "kafka.guarantee=exactly-once",
           "--checkpoint-interval", "100ms", "--parallelism", "3"});
  args.erase(args.begin());  // "run"
  ProcessResult submitted = cluster.submit_and_wait(args);
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err << cluster.jobmanager().err();
  EXPECT_EQ(read_output_topic(), case_.expected);
}

TEST_F(KafkaJobs, WindowedCountFromKafkaToKafkaMatchesReference) {
  ProcessResult run = testing::run_process(
      SLUICE_BINARY,
      job({"--set", "output=kafka:out", "--set", "kafka.guarantee=exactly-once", "--checkpoint-dir",
           "ck", "--checkpoint-interval", "100ms"}),
      dir_.path());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  // Without a crash nothing is aborted: the output is exact even on the mock.
  EXPECT_EQ(read_output_topic(), case_.expected);
}

// Stop with drain: the job reads Kafka without end (kafka.stop=never); once
// it has read every record, a stop with drain over the REST API ends its
// sources with the maximum watermark, every window fires, the final
// checkpoint commits, and the output is exactly the bounded run's.
TEST_F(KafkaJobs, DrainingAnUnboundedJobGivesTheBoundedRunsOutput) {
  drain_equals_bounded_run({"--checkpoint-dir", "ck", "--checkpoint-interval", "100ms"});
}

// The same in micro-batch mode: the drain's batch reads nothing and ends
// event time, and the job ends once it is committed.
TEST_F(KafkaJobs, DrainingAnUnboundedMicroBatchJobGivesTheBoundedRunsOutput) {
  drain_equals_bounded_run(micro_batches({}));
}

// Sliding and session windows, in both modes: the drained job's output
// equals a bounded run's over the same topic (kafka.stop=latest).
TEST_F(KafkaJobs, DrainingGivesTheBoundedRunsOutputForSlidingAndSessionWindows) {
  for (const char* window : {"window=sliding:300ms:100ms", "window=session:8ms"}) {
    for (bool micro : {false, true}) {
      SCOPED_TRACE(std::string(window) + (micro ? " in micro-batch mode" : ""));
      std::vector<std::string> mode{"--checkpoint-dir", "ck", "--checkpoint-interval", "100ms"};
      if (micro) mode = micro_batches({});
      mode.insert(mode.end(), {"--set", window});
      std::filesystem::remove_all(dir_.file("ck"));
      std::filesystem::remove_all(dir_.file("out"));
      std::filesystem::remove_all(dir_.file("bounded"));
      std::vector<std::string> bounded = mode;
      bounded.insert(bounded.end(), {"--set", "output=bounded"});
      ProcessResult run = testing::run_process(SLUICE_BINARY, job(bounded), dir_.path());
      ASSERT_EQ(run.exit_code, 0) << run.err;
      std::filesystem::remove_all(dir_.file("ck"));
      drain_equals_bounded_run(mode, testing::committed_lines(dir_.file("bounded")));
    }
  }
}

// Stop without drain: the job (RocksDB with incremental checkpoints) reads
// Kafka without end, at a limited rate, and is stopped midway over the REST
// API: its sources stop, a savepoint keeps the offsets and the open windows,
// and the sinks commit it. The savepoint is moved and the checkpoint
// directory deleted; a job at parallelism 3 on the memory backend resumes
// from the moved savepoint and reads to the end. The committed output is
// exactly the bounded run's: nothing lost at the stop, nothing twice.
TEST_F(KafkaJobs, StoppedWithASavepointAndResumedElsewhereGivesTheBoundedRunsOutput) {
  stop_and_resume_elsewhere({"--checkpoint-dir", "ck", "--checkpoint-interval", "100ms"});
}

// The same with unaligned checkpoints: the stop's savepoint is aligned even
// so (records in flight would tie it to parallelism 2), and the job resumes
// from it at parallelism 3.
TEST_F(KafkaJobs, StoppedUnalignedJobResumedElsewhereGivesTheBoundedRunsOutput) {
  stop_and_resume_elsewhere({"--checkpoint-dir", "ck", "--checkpoint-interval", "100ms",
                             "--checkpoint-mode", "unaligned"});
}

// The same in micro-batch mode: the stop's savepoint is the next batch.
TEST_F(KafkaJobs, StoppedMicroBatchJobResumedElsewhereGivesTheBoundedRunsOutput) {
  stop_and_resume_elsewhere(micro_batches({}));
}

TEST_F(KafkaJobs, SigkilledJobReadingKafkaCommitsExactFileOutput) {
  run_with_kills(job({"--set", "output=out", "--set", "rate=10000", "--checkpoint-dir", "ck",
                      "--checkpoint-interval", "100ms"}));
  std::vector<std::string> committed = testing::committed_lines(dir_.file("out"));
  EXPECT_EQ(committed.size(), case_.expected.size());
  EXPECT_EQ(committed, case_.expected);
}

// Sources that finish at different times (issue: final checkpoints). Topic
// "uneven" holds the first 100 lines in partition 0 and the rest in
// partition 1, which subtasks of their own read (partitions 2 and 3 stay
// empty), so one source ends at once and the other after seconds. The job
// is killed right after its eighth checkpoint completed, long after the
// first source ended, and before its sinks committed it (the old engine
// took no checkpoint after the first source ended, so it never got there).
// The restored job must give exactly the reference output.
class UnevenSources : public KafkaJobs {
 protected:
  void SetUp() override {
    KafkaJobs::SetUp();
    if (IsSkipped()) return;
    std::vector<std::string> lines = testing::non_empty_lines(case_.csv);
    std::string early, late;
    for (size_t i = 0; i < lines.size(); ++i) (i < 100 ? early : late) += lines[i] + "\n";
    for (const auto& [partition, text] : {std::pair{"0", early}, std::pair{"1", late}}) {
      std::string file = dir_.file(std::string("uneven-") + partition + ".csv");
      testing::write_file(file, text);
      ProcessResult produced = kcat_.run({"-P", "-t", "uneven", "-p", partition, "-l", file});
      ASSERT_EQ(produced.exit_code, 0) << produced.err;
    }
  }

  void crash_then_restore(std::vector<std::string> output) {
    std::vector<std::string> args = job(output);
    for (std::string& arg : args) {
      if (arg == "input=kafka:in") arg = "input=kafka:uneven";
    }
    args.insert(args.end(), {"--set", "rate=10000", "--checkpoint-dir", "ck",
                             "--checkpoint-interval", "100ms"});
    ProcessResult crashed;
    {
      testing::FaultsInChildren faults("checkpoint.complete-tasks-not-notified=crash@8");
      crashed = testing::run_process(SLUICE_BINARY, args, dir_.path());
    }
    ASSERT_EQ(crashed.exit_code, 128 + 9) << "no eighth checkpoint:\n" << crashed.err;
    args.insert(args.end(), {"--restore", "latest"});
    ProcessResult restored = testing::run_process(SLUICE_BINARY, args, dir_.path());
    ASSERT_EQ(restored.exit_code, 0) << restored.err;
  }
};

TEST_F(UnevenSources, ACrashAfterTheFirstSourceEndedCommitsExactFileOutput) {
  crash_then_restore({"--set", "output=out"});
  std::vector<std::string> committed = testing::committed_lines(dir_.file("out"));
  EXPECT_EQ(committed.size(), case_.expected.size());
  EXPECT_EQ(committed, case_.expected);
}

// On the development broker aborted transactions stay visible, so rows may
// appear twice there; what must hold: nothing lost, nothing wrong, and no
// epoch committed twice (every commit marker once).
// Spark's no-data batches, in micro-batch mode: partition 0 of "uneven" has
// only the first 100 lines, so the source subtask reading it turns idle
// once the idle timeout (3 s, longer than reading everything takes) passed,
// when no data comes any more. A batch without data then moves the
// watermark, and the windows of the other partition fire and commit;
// without it they would wait for new data that never comes (none commits).
// A drain then commits the rest: exactly the reference.
TEST_F(UnevenSources, MicroBatchIdleSplitFiresWindowsWithoutNewData) {
  std::vector<std::string> args = unbounded(
      job(micro_batches({"--set", "output=out", "--set", "idle-timeout=3s", "--rest-port", "0"})));
  std::replace(args.begin(), args.end(), std::string("input=kafka:in"),
               std::string("input=kafka:uneven"));
  ChildProcess child(SLUICE_BINARY, args, dir_.path());
  int rest = rest_port_of(child);
  size_t most = case_.expected.size() * 9 / 10;
  EXPECT_TRUE(testing::eventually([&] {
    return testing::committed_lines(dir_.file("out")).size() >= most;
  })) << testing::committed_lines(dir_.file("out")).size()
      << " of " << case_.expected.size() << " windows committed while no data comes\n"
      << child.err();
  std::vector<std::string> before = testing::committed_lines(dir_.file("out"));
  EXPECT_TRUE(
      std::includes(case_.expected.begin(), case_.expected.end(), before.begin(), before.end()));
  ASSERT_TRUE(testing::eventually([&] { return sources_records_out(rest) == kLines; }));
  auto stopped =
      testing::http_request(rest, "POST", "/jobs/windowed-count/stop", R"({"drain": true})");
  EXPECT_EQ(stopped.status, 202) << stopped.body;
  EXPECT_EQ(child.wait(), 0) << child.err();
  EXPECT_EQ(testing::committed_lines(dir_.file("out")), case_.expected);
}

TEST_F(UnevenSources, ACrashAfterTheFirstSourceEndedCommitsEveryKafkaEpochOnce) {
  crash_then_restore({"--set", "output=kafka:out", "--set", "kafka.guarantee=exactly-once"});
  std::vector<std::string> rows = read_output_topic();
  std::set<std::string> distinct(rows.begin(), rows.end());
  EXPECT_EQ(std::vector<std::string>(distinct.begin(), distinct.end()), case_.expected);
  ProcessResult markers = kcat_.run({"-C", "-t", "sluice-windowed-count-out.sluice-commits", "-o",
                                     "beginning", "-e", "-q", "-f", "%k=%s\n"});
  ASSERT_EQ(markers.exit_code, 0) << markers.err;
  std::vector<std::string> committed = testing::non_empty_lines(markers.out);
  std::set<std::string> unique(committed.begin(), committed.end());
  EXPECT_EQ(unique.size(), committed.size()) << "an epoch was committed twice:\n" << markers.out;
  EXPECT_GE(committed.size(), 8u);
}

// Micro-batch mode with Kafka in and out: the same output as the reference
// (and so as the continuous run above), then the same under SIGKILLs.
constexpr const char* kBatchCommitted = " rows in (";

TEST_F(KafkaJobs, MicroBatchFromKafkaToKafkaMatchesReference) {
  ProcessResult run = testing::run_process(
      SLUICE_BINARY,
      job(micro_batches({"--set", "output=kafka:out", "--set", "kafka.guarantee=exactly-once"})),
      dir_.path());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("batch 2:"), std::string::npos) << "expected several batches";
  EXPECT_EQ(read_output_topic(), case_.expected);
}

TEST_F(KafkaJobs, MicroBatchSigkilledJobReadingKafkaCommitsExactFileOutput) {
  run_with_kills(job(micro_batches({"--set", "output=out", "--set", "rate=10000"})),
                 kBatchCommitted);
  std::vector<std::string> committed = testing::committed_lines(dir_.file("out"));
  EXPECT_EQ(committed.size(), case_.expected.size());
  EXPECT_EQ(committed, case_.expected);
}

// Every expected line is in the topic (nothing lost) and every line in it is
// an expected one (nothing wrong); duplicates are what the mock may show.
void expect_nothing_lost(const std::vector<std::string>& output,
                         const std::vector<std::string>& expected) {
  std::set<std::string> distinct(output.begin(), output.end());
  EXPECT_EQ(std::vector<std::string>(distinct.begin(), distinct.end()), expected);
  EXPECT_GE(output.size(), expected.size());
}

TEST_F(KafkaJobs, SigkilledJobLosesNoAtLeastOnceOutput) {
  run_with_kills(job({"--set", "output=kafka:out", "--set", "rate=10000", "--set",
                      "kafka.guarantee=at-least-once", "--checkpoint-dir", "ck",
                      "--checkpoint-interval", "100ms"}));
  expect_nothing_lost(read_output_topic(), case_.expected);
}

TEST_F(KafkaJobs, SigkilledJobLosesNoExactlyOnceOutput) {
  run_with_kills(job({"--set", "output=kafka:out", "--set", "rate=10000", "--set",
                      "kafka.guarantee=exactly-once", "--checkpoint-dir", "ck",
                      "--checkpoint-interval", "100ms"}));
  expect_nothing_lost(read_output_topic(), case_.expected);
}

// The mock broker shows aborted transactions (no read_committed), so this
// proves that nothing is lost, not that nothing is repeated; the file
// output above proves the latter for the same batches.
TEST_F(KafkaJobs, MicroBatchSigkilledJobLosesNoExactlyOnceKafkaOutput) {
  run_with_kills(job(micro_batches({"--set", "output=kafka:out", "--set", "rate=10000", "--set",
                                    "kafka.guarantee=exactly-once"})),
                 kBatchCommitted);
  expect_nothing_lost(read_output_topic(), case_.expected);
}

// wordcount reads and writes Kafka too: the same counts as from the file
// (whose counts the topologies tests check against a reference), keyed by
// the word.
TEST_F(KafkaJobs, WordcountThroughKafkaMatchesTheFileRun) {
  testing::write_file(dir_.file("in.csv"), case_.csv);
  ProcessResult from_file = testing::run_process(
      SLUICE_BINARY, {"run", "wordcount", "--set", "input=in.csv", "--set", "output=words"},
      dir_.path());
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  ProcessResult through_kafka = testing::run_process(
      SLUICE_BINARY,
      {"run", "wordcount", "--set", "input=kafka:in", "--set", "output=kafka:out", "--set",
       "kafka.bootstrap=" + bootstraps_, "--set", "kafka.stop=latest", "--parallelism", "2"},
      dir_.path());
  ASSERT_EQ(through_kafka.exit_code, 0) << through_kafka.err;
  std::vector<std::string> expected = testing::committed_lines(dir_.file("words"));
  ASSERT_GT(expected.size(), 10u);
  EXPECT_EQ(read_output_topic(), expected);
}

// Malformed lines go to the dead-letter topic, as they were, with the
// error in a header; the job goes on and its output is the reference's.
TEST_F(KafkaJobs, MalformedLinesGoToTheDeadLetterTopic) {
  testing::write_file(dir_.file("bad.csv"), "not a line\n1767225600000,k1,NaN\n");
  ProcessResult produced = kcat_.run({"-P", "-t", "in", "-p", "1", "-l", dir_.file("bad.csv")});
  ASSERT_EQ(produced.exit_code, 0) << produced.err;
  ProcessResult run = testing::run_process(
      SLUICE_BINARY, job({"--set", "output=out", "--set", "on-error=dead-letter:bad"}),
      dir_.path());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("sent 2 malformed records to dead-letter topic bad"), std::string::npos)
      << run.err;
  EXPECT_EQ(testing::committed_lines(dir_.file("out")), case_.expected);
  ProcessResult dead = kcat_.run({"-C", "-t", "bad", "-o", "beginning", "-e", "-q", "-f", "%s|%h\n",
                                  "-X", "fetch.wait.max.ms=10"});
  ASSERT_EQ(dead.exit_code, 0) << dead.err;
  std::vector<std::string> letters = testing::non_empty_lines(dead.out);
  ASSERT_EQ(letters.size(), 2u) << dead.out;
  std::sort(letters.begin(), letters.end());
  EXPECT_EQ(letters[0].substr(0, letters[0].find('|')), "1767225600000,k1,NaN");
  EXPECT_NE(letters[0].find("sluice.error=value is not an integer"), std::string::npos)
      << letters[0];
  EXPECT_NE(letters[0].find("sluice.origin=topic in partition 1 offset"), std::string::npos)
      << letters[0];
  EXPECT_EQ(letters[1].substr(0, letters[1].find('|')), "not a line");
}

}  // namespace
}  // namespace sluice
