// The cluster as real processes on loopback: `sluice jobmanager`, task
// managers and `sluice submit`. Outputs are compared with the local run and
// with an independent reference computation; faults are SIGKILLs of a task
// manager or of the job manager at a random moment after a checkpoint.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "runtime/checkpoint/storage.h"
#include "runtime/cluster/cluster.pb.h"
#include "runtime/task/task.h"
#include "tests/cluster_process.h"
#include "tests/windowed_count_reference.h"

namespace sluice {
namespace {

using testing::ChildProcess;
using testing::ClusterProcesses;
using testing::committed_lines;
using testing::TempDir;

std::vector<std::string> with_wait(std::vector<std::string> args) {
  args.push_back("--wait");
  return args;
}

// A free TCP port on loopback (bound, then released), for a job manager
// that must come back on the same port.
int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// Sends `bytes` to 127.0.0.1:`port`; true when the server then hangs up
// (within 10 s) instead of waiting for more.
bool server_hangs_up_after(int port, const std::string& bytes) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return false;
  }
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  bool hung_up = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) >= 0;
  char buffer[256];
  ssize_t n = 0;
  while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) {
  }
  hung_up = hung_up && (n == 0 || errno == ECONNRESET);
  close(fd);
  return hung_up;
}

// A frame header: magic, version 1, `kind`, `length`.
std::string frame_header(uint16_t kind, uint32_t length) {
  std::string h = "SLCE";
  h += {static_cast<char>(0), static_cast<char>(1), static_cast<char>(kind >> 8),
        static_cast<char>(kind & 0xff)};
  for (int shift = 24; shift >= 0; shift -= 8) h += static_cast<char>((length >> shift) & 0xff);
  return h;
}

std::vector<std::string> windowed_count(const std::string& output, std::vector<std::string> more) {
  std::vector<std::string> args{"windowed-count",   "--set", "input=in.csv",         "--set",
                                "output=" + output, "--set", "window=tumbling:100ms"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

TEST(ClusterJobs, WindowedCountAtParallelismFourOnTwoTaskManagersMatchesTheLocalRun) {
  TempDir dir;
  testing::WindowedCountCase c = testing::tumbling_case(30000, 100);
  testing::write_file(dir.file("in.csv"), c.csv);
  std::vector<std::string> local_args = windowed_count("local", {"--parallelism", "1"});
  local_args.insert(local_args.begin(), "run");
  testing::ProcessResult local = testing::run_process(SLUICE_BINARY, local_args, dir.path());
  ASSERT_EQ(local.exit_code, 0) << local.err;

  ClusterProcesses cluster(SLUICE_BINARY, dir.path());
  cluster.start_jobmanager();
  ChildProcess& tm1 = cluster.start_taskmanager("tm-1", 2);
  ChildProcess& tm2 = cluster.start_taskmanager("tm-2", 2);
  testing::ProcessResult submitted =
      cluster.submit_and_wait(windowed_count("out", {"--parallelism", "4"}));
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err << cluster.jobmanager().err();
  EXPECT_NE(submitted.err.find("finished"), std::string::npos) << submitted.err;
  // Both task managers ran part of the job.
  EXPECT_TRUE(tm1.wait_for_line("deploying job windowed-count-1", 5000)) << tm1.err();
  EXPECT_TRUE(tm2.wait_for_line("deploying job windowed-count-1", 5000)) << tm2.err();
  EXPECT_EQ(committed_lines(dir.file("out")), committed_lines(dir.file("local")));
  EXPECT_EQ(committed_lines(dir.file("out")), c.expected);
}

// Two-input operators across processes: Nexmark q3 (a keyed co-process
// function) and q8 (a window co-group) read a person and an auction stream
// over remote hash edges from sources on both task managers.
TEST(ClusterJobs, TwoInputJoinsOnTwoTaskManagersMatchTheLocalRun) {
  TempDir dir;
  ClusterProcesses cluster(SLUICE_BINARY, dir.path());
  cluster.start_jobmanager();
  cluster.start_taskmanager("tm-1", 2);
  cluster.start_taskmanager("tm-2", 2);
  for (const std::string query : {"q3", "q8"}) {
    std::vector<std::string> job{"nexmark", "--set", "query=" + query, "--set", "events=200000"};
    std::vector<std::string> local_args = job;
    local_args.insert(local_args.begin(), "run");
    local_args.insert(local_args.end(), {"--set", "output=local-" + query, "--parallelism", "1"});
    testing::ProcessResult local = testing::run_process(SLUICE_BINARY, local_args, dir.path());
    ASSERT_EQ(local.exit_code, 0) << local.err;
    job.insert(job.end(), {"--set", "output=out-" + query, "--parallelism", "4"});
    testing::ProcessResult submitted = cluster.submit_and_wait(job);
    ASSERT_EQ(submitted.exit_code, 0) << submitted.err << cluster.jobmanager().err();
    std::vector<std::string> expected = committed_lines(dir.file("local-" + query));
    ASSERT_GT(expected.size(), 100u) << query;
    EXPECT_EQ(committed_lines(dir.file("out-" + query)), expected) << query;
  }
}

// Watermark alignment across task managers: sources on both read byte
// ranges of a time-ordered file and are held within 100 ms of event time of
// each other through the job manager's heartbeat answers (every 50 ms
// here). Nothing is lost or repeated, and no source waits for good.
TEST(ClusterJobs, AlignedSourcesOnTwoTaskManagersMatchTheReference) {
  TempDir dir;
  testing::WindowedCountCase c = testing::tumbling_case(30000, 100);
  testing::write_file(dir.file("in.csv"), c.csv);
  ClusterProcesses cluster(SLUICE_BINARY, dir.path());
  cluster.start_jobmanager(0, {"--heartbeat-interval", "50ms"});
  cluster.start_taskmanager("tm-1", 2);
  cluster.start_taskmanager("tm-2", 2);
  testing::ProcessResult submitted = cluster.submit_and_wait(windowed_count(
      "out", {"--parallelism", "4", "--watermark-alignment", "100ms", "--set", "rate=20000"}));
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err << cluster.jobmanager().err();
  EXPECT_EQ(committed_lines(dir.file("out")), c.expected);
}

// A hash shuffle between processes with one batch of credit per channel and
// RocksDB state on the consuming side: the sources outrun the window
// operators, so the shuffle runs under backpressure throughout.
TEST(ClusterJobs, HashShuffleAcrossProcessesUnderBackpressureLosesNothing) {
  TempDir dir;
  testing::WindowedCountCase c = testing::tumbling_case(120000, 50, 7);
  testing::write_file(dir.file("in.csv"), c.csv);
  ClusterProcesses cluster(SLUICE_BINARY, dir.path());
  cluster.start_jobmanager();
  cluster.start_taskmanager("tm-1", 2);
  cluster.start_taskmanager("tm-2", 2);
  testing::ProcessResult submitted = cluster.submit_and_wait(
      windowed_count("out", {"--set", "window=tumbling:50ms", "--parallelism", "4",
                             "--channel-capacity", "1", "--state", "rocksdb"}));
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err << cluster.jobmanager().err();
  EXPECT_EQ(committed_lines(dir.file("out")), c.expected);
}

// Buffer debloating across processes: the receiving ends hold back credits
// while over their record budgets, writers send smaller batches, and
// checkpoints run through it all; nothing is lost, repeated or stuck.
TEST(ClusterJobs, DebloatedShuffleAcrossProcessesLosesNothing) {
  TempDir dir;
  testing::WindowedCountCase c = testing::tumbling_case(60000, 100, 11);
  testing::write_file(dir.file("in.csv"), c.csv);
  ClusterProcesses cluster(SLUICE_BINARY, dir.path());
  cluster.start_jobmanager();
  cluster.start_taskmanager("tm-1", 2);
  cluster.start_taskmanager("tm-2", 2);
  testing::ProcessResult submitted = cluster.submit_and_wait(
      windowed_count("out", {"--parallelism", "4", "--buffer-debloat-target", "20ms",
                             "--checkpoint-interval", "100ms", "--set", "output-rate=1500"}));
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err << cluster.jobmanager().err();
  EXPECT_EQ(committed_lines(dir.file("out")), c.expected);
}

// Throttled windowed-count with a checkpoint every 100 ms and the
// exactly-once file sink.
std::vector<std::string> checkpointed_job(std::vector<std::string> more = {}) {
  std::vector<std::string> args{
      "--set", "rate=15000",      "--parallelism", "4", "--checkpoint-interval",
      "100ms", "--restart-delay", "100ms"};
  args.insert(args.end(), more.begin(), more.end());
  return windowed_count("out", args);
}

// The same job in micro-batch mode: batches of at most 1000 lines per split.
std::vector<std::string> micro_batch_job() {
  return windowed_count(
      "out", {"--set", "rate=15000", "--parallelism", "4", "--mode", "microbatch",
              "--max-records-per-batch", "1000", "--restart-delay", "100ms", "--state", "rocksdb"});
}

// The fault tests: throttled, checkpointed windowed-count on 40,000 events
// in a cluster of real processes, whose committed output must equal the
// reference exactly whatever is killed or stopped on the way.
class ClusterFault : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_file(dir_.file("in.csv"), case_.csv); }

  // `sluice submit --wait` of the checkpointed job, running in the background.
  std::unique_ptr<ChildProcess> submit_waiting(std::vector<std::string> more = {}) {
    return submit_waiting_for(checkpointed_job(std::move(more)));
  }
  std::unique_ptr<ChildProcess> submit_waiting_for(std::vector<std::string> job) {
    return std::make_unique<ChildProcess>(
        SLUICE_BINARY, cluster_.submit_args(with_wait(std::move(job))), dir_.path());
  }

  void expect_exact_output() {
    std::vector<std::string> committed = committed_lines(dir_.file("out"));
    EXPECT_EQ(committed.size(), case_.expected.size());
    EXPECT_EQ(committed, case_.expected);
  }

  TempDir dir_;
  testing::WindowedCountCase case_ = testing::tumbling_case(40000, 100);
  ClusterProcesses cluster_{SLUICE_BINARY, dir_.path()};
};

// With RocksDB state and incremental checkpoints: the new task manager's
// subtasks open the SST files the dead one checkpointed.
TEST_F(ClusterFault, SigkilledTaskManagerIsReplacedAndNothingIsLostOrRepeated) {
  ChildProcess& jm = cluster_.start_jobmanager();
  cluster_.start_taskmanager("tm-1", 2);
  ChildProcess& tm2 = cluster_.start_taskmanager("tm-2", 2);
  std::unique_ptr<ChildProcess> submit = submit_waiting({"--state", "rocksdb"});
  std::mt19937 rng(static_cast<unsigned>(std::random_device{}()));
  int checkpoints = 2 + static_cast<int>(rng() % 3);
  for (int i = 0; i < checkpoints; ++i) {
    ASSERT_TRUE(jm.wait_for_line("complete in", 30000)) << jm.err();
  }
  auto kill_moment = std::chrono::milliseconds(rng() % 100);
  std::this_thread::sleep_for(kill_moment);  // sleep-ok: random kill moment
  tm2.kill_hard();
  ASSERT_TRUE(jm.wait_for_line("task manager tm-2 lost", 15000)) << jm.err();
  cluster_.start_taskmanager("tm-3", 2);
  ASSERT_TRUE(jm.wait_for_line("attempt 1: all 8 tasks running", 30000)) << jm.err();
  EXPECT_EQ(submit->wait(), 0) << submit->err() << jm.err();
  expect_exact_output();
}

// throttled-count with part files: `events` ticks over `keys` keys in index
// order, so key k counts to events / keys, plus one for k < events % keys.
std::vector<std::string> throttled_count_reference(int events, int keys) {
  std::vector<std::string> lines;
  for (int k = 0; k < keys; ++k) {
    int n = events / keys + (k < events % keys ? 1 : 0);
    for (int count = 1; count <= n; ++count) lines.push_back(fmt::format("{},{}", k, count));
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

// Whether the checkpoint in `dir` holds output that a sender's unaligned
// barrier overtook (a task's "#overtaken-output" state with data).
bool holds_overtaken_output(const std::string& dir) {
  CheckpointMetadata metadata = CheckpointStorage(dir, "").load(dir);
  for (const OperatorStateHandle& op : metadata.operators) {
    if (!op.name.ends_with(kOvertakenOutputSuffix)) continue;
    for (const SubtaskStateHandle& subtask : op.subtasks) {
      if (!subtask.operator_state.empty()) return true;
    }
  }
  return false;
}

// Unaligned checkpoints across processes: barriers overtake full channels
// at both ends of each remote edge; the sender stores what its barrier
// overtook in its outbound channel, the receiver what had arrived. After a
// task manager's SIGKILL the restored consumers replay both, and the output
// is exact. The sinks take 8,000 records a second in all against 24,000
// made, so both shuffles of the job stay full.
TEST_F(ClusterFault, UnalignedCheckpointsSurviveATaskManagerSigkill) {
  constexpr int kEvents = 24000;
  constexpr int kKeys = 100;
  ChildProcess& jm = cluster_.start_jobmanager();
  ChildProcess& tm1 = cluster_.start_taskmanager("tm-1", 2);
  ChildProcess& tm2 = cluster_.start_taskmanager("tm-2", 2);
  std::unique_ptr<ChildProcess> submit = submit_waiting_for({"throttled-count",
                                                             "--set",
                                                             fmt::format("events={}", kEvents),
                                                             "--set",
                                                             "rate=24000",
                                                             "--set",
                                                             fmt::format("keys={}", kKeys),
                                                             "--set",
                                                             "sink-rate=2000",
                                                             "--set",
                                                             "output=out",
                                                             "--parallelism",
                                                             "4",
                                                             "--checkpoint-interval",
                                                             "100ms",
                                                             "--restart-delay",
                                                             "100ms",
                                                             "--checkpoint-mode",
                                                             "unaligned",
                                                             "--checkpoints-retained",
                                                             "50",
                                                             "--channel-capacity",
                                                             "2"});
  std::mt19937 rng(static_cast<unsigned>(std::random_device{}()));
  int checkpoints = 4 + static_cast<int>(rng() % 6);
  for (int i = 0; i < checkpoints; ++i) {
    ASSERT_TRUE(jm.wait_for_line("complete in", 30000)) << jm.err();
  }
  auto kill_moment = std::chrono::milliseconds(rng() % 100);
  std::this_thread::sleep_for(kill_moment);  // sleep-ok: random kill moment
  tm2.kill_hard();
  ASSERT_TRUE(jm.wait_for_line("task manager tm-2 lost", 15000)) << jm.err();
  ChildProcess& tm3 = cluster_.start_taskmanager("tm-3", 2);
  ASSERT_TRUE(jm.wait_for_line("attempt 1: all 12 tasks running", 30000)) << jm.err();
  EXPECT_EQ(submit->wait(), 0) << submit->err() << jm.err();
  std::vector<std::string> committed = committed_lines(dir_.file("out"));
  std::vector<std::string> expected = throttled_count_reference(kEvents, kKeys);
  EXPECT_EQ(committed.size(), expected.size());
  EXPECT_EQ(committed, expected);
  // Whether a sender's barrier overtook anything at the restored checkpoint
  // depends on the moment; when it did, a restored consumer replays it.
  int restored = testing::number_after(jm.err(), "attempt 1: restoring checkpoint ");
  ASSERT_GT(restored, 0) << jm.err();
  if (holds_overtaken_output(dir_.file("ck/throttled-count-1/chk-" + std::to_string(restored)))) {
    EXPECT_TRUE(tm1.wait_for_line("barrier overtook first", 5000) ||
                tm3.wait_for_line("barrier overtook first", 5000))
        << "no restored consumer replayed what a remote producer's barrier overtook";
  } else {
    std::cout << "checkpoint " << restored << " holds no overtaken output to replay\n";
  }
}

// Micro-batch mode on the cluster: the replacement attempt runs the batch
// the dead task manager was in again, with its logged slices.
TEST_F(ClusterFault, MicroBatchJobSurvivesATaskManagerSigkill) {
  ChildProcess& jm = cluster_.start_jobmanager();
  cluster_.start_taskmanager("tm-1", 2);
  ChildProcess& tm2 = cluster_.start_taskmanager("tm-2", 2);
  std::unique_ptr<ChildProcess> submit = submit_waiting_for(micro_batch_job());
  ASSERT_TRUE(jm.wait_for_line("batch 2:", 30000)) << jm.err();
  ASSERT_TRUE(jm.wait_for_line("batch 3 planned", 30000)) << jm.err();
  tm2.kill_hard();
  ASSERT_TRUE(jm.wait_for_line("task manager tm-2 lost", 15000)) << jm.err();
  cluster_.start_taskmanager("tm-3", 2);
  ASSERT_TRUE(jm.wait_for_line("batch 3 runs again with its logged slices", 30000)) << jm.err();
  EXPECT_EQ(submit->wait(), 0) << submit->err() << jm.err();
  expect_exact_output();
}

// Final checkpoints on the cluster: the task manager dies just after one of
// its tasks finished its input (before the job's final checkpoint). The
// job restarts from its latest checkpoint on a new task manager; the sinks
// committed nothing outside checkpoints, so the output is exact, and the
// job ends with a final checkpoint.
TEST_F(ClusterFault, TaskManagerKilledAfterATaskFinishedItsInput) {
  ChildProcess& jm = cluster_.start_jobmanager();
  cluster_.start_taskmanager("tm-1", 2);
  {
    testing::FaultsInChildren faults("task.input-ended=crash");
    cluster_.start_taskmanager("tm-2", 2);
  }
  std::unique_ptr<ChildProcess> submit = submit_waiting();
  ASSERT_TRUE(jm.wait_for_line("task manager tm-2 lost", 60000)) << jm.err();
  cluster_.start_taskmanager("tm-3", 2);
  ASSERT_TRUE(jm.wait_for_line("attempt 1: all 8 tasks running", 30000)) << jm.err();
  EXPECT_TRUE(jm.wait_for_line("final checkpoint", 60000)) << jm.err();
  EXPECT_EQ(submit->wait(), 0) << submit->err() << jm.err();
  expect_exact_output();
}

// A task manager that stops answering (SIGSTOP: its sockets stay open) is
// lost by heartbeat timeout; the job moves to a new task manager.
TEST_F(ClusterFault, SilentTaskManagerIsLostByHeartbeatTimeout) {
  ChildProcess& jm =
      cluster_.start_jobmanager(0, {"--heartbeat-interval", "100ms", "--heartbeat-timeout", "1s"});
  cluster_.start_taskmanager("tm-1", 2);
  ChildProcess& tm2 = cluster_.start_taskmanager("tm-2", 2);
  std::unique_ptr<ChildProcess> submit = submit_waiting();
  ASSERT_TRUE(jm.wait_for_line("complete in", 30000)) << jm.err();
  tm2.send_signal(SIGSTOP);
  ASSERT_TRUE(jm.wait_for_line("task manager tm-2 lost: no heartbeat for 1s", 15000)) << jm.err();
  cluster_.start_taskmanager("tm-3", 2);
  EXPECT_EQ(submit->wait(), 0) << submit->err() << jm.err();
  expect_exact_output();
}

// A task manager that hears nothing from the job manager for the heartbeat
// timeout (here: the job manager is stopped) gives it up and cancels its
// tasks, so they never run beside a replacement; once the job manager is
// back, the job recovers and its output is exact.
TEST_F(ClusterFault, TaskManagerFencesItselfWhenTheJobManagerFallsSilent) {
  ChildProcess& jm =
      cluster_.start_jobmanager(0, {"--heartbeat-interval", "100ms", "--heartbeat-timeout", "1s"});
  ChildProcess& tm = cluster_.start_taskmanager("tm-1", 4);
  std::unique_ptr<ChildProcess> submit = submit_waiting();
  ASSERT_TRUE(jm.wait_for_line("complete in", 30000)) << jm.err();
  jm.send_signal(SIGSTOP);
  bool fenced = tm.wait_for_line("giving up on it", 15000);
  bool cancelled = tm.wait_for_line("cancelling job windowed-count-1", 15000);
  jm.send_signal(SIGCONT);
  ASSERT_TRUE(fenced) << tm.err();
  EXPECT_TRUE(cancelled) << tm.err();
  EXPECT_EQ(submit->wait(), 0) << submit->err() << jm.err();
  expect_exact_output();
}

TEST_F(ClusterFault, RestartedJobManagerResumesTheJobFromItsLatestCheckpoint) {
  ChildProcess& first = cluster_.start_jobmanager(free_port());
  cluster_.start_taskmanager("tm-1", 2);
  cluster_.start_taskmanager("tm-2", 2);
  // The waiting client outlives the job manager's restart.
  std::unique_ptr<ChildProcess> submit = submit_waiting();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(first.wait_for_line("complete in", 30000)) << first.err();
  first.kill_hard();
  first.wait();
  int port = cluster_.port();
  cluster_.replace_jobmanager();
  ChildProcess& second = cluster_.start_jobmanager(port);
  // Logged while it starts, before it listens.
  EXPECT_NE(second.err().find("resuming job windowed-count-1"), std::string::npos) << second.err();
  ASSERT_TRUE(second.wait_for_line("restoring", 30000)) << second.err();
  ASSERT_TRUE(second.wait_for_line("tasks running", 30000)) << second.err();
  // This job manager did not see the last attempt fail: it claims no time.
  EXPECT_EQ(second.err().find("after the last attempt failed"), std::string::npos) << second.err();
  ASSERT_TRUE(second.wait_for_line("job windowed-count-1 finished", 60000)) << second.err();
  EXPECT_EQ(submit->wait(), 0) << submit->err();
  EXPECT_NE(submit->err().find("waiting for the job manager to come back"), std::string::npos)
      << submit->err();
  expect_exact_output();
}

TEST(ClusterServers, GarbageAndOversizedFramesAreRefusedAndServingGoesOn) {
  TempDir dir;
  testing::WindowedCountCase c = testing::tumbling_case(2000, 100);
  testing::write_file(dir.file("in.csv"), c.csv);
  ClusterProcesses cluster(SLUICE_BINARY, dir.path());
  ChildProcess& jm = cluster.start_jobmanager();
  ChildProcess& tm = cluster.start_taskmanager("tm-1", 1);
  ASSERT_TRUE(tm.wait_for_line("data port", 5000)) << tm.err();
  int data_port = testing::number_after(tm.err(), "data port ");
  ASSERT_GT(data_port, 0) << tm.err();
  std::string garbage = "GET / HTTP/1.1\r\nHost: sluice\r\n\r\n";
  for (int port : {cluster.port(), data_port}) {
    EXPECT_TRUE(server_hangs_up_after(port, garbage)) << port;
    EXPECT_TRUE(server_hangs_up_after(port, frame_header(1, 0xFFFFFFF0u))) << port;
    EXPECT_TRUE(server_hangs_up_after(port, frame_header(77, 4) + "abcd")) << port;
  }
  EXPECT_TRUE(server_hangs_up_after(cluster.port(), frame_header(1, 5) + "\xff\xff\xff\xff\xff"));
  // A valid message the job manager has no business receiving.
  pb::Envelope stray;
  stray.mutable_job_status()->set_job("x-1");
  stray.mutable_job_status()->set_state("finished");
  std::string payload = stray.SerializeAsString();
  EXPECT_TRUE(server_hangs_up_after(
      cluster.port(), frame_header(1, static_cast<uint32_t>(payload.size())) + payload));
  EXPECT_TRUE(jm.wait_for_line("exceeds the maximum", 5000)) << jm.err();
  // Both still serve: a job runs to the end.
  testing::ProcessResult submitted = cluster.submit_and_wait(windowed_count("out", {}));
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err << jm.err() << tm.err();
  EXPECT_EQ(committed_lines(dir.file("out")), c.expected);
}

TEST(ClusterCommands, BadSubmissionsGetOneLineErrors) {
  TempDir dir;
  ClusterProcesses cluster(SLUICE_BINARY, dir.path());
  cluster.start_jobmanager();
  cluster.start_taskmanager("tm-1", 1);
  testing::ProcessResult unknown = cluster.submit_and_wait({"no-such-topology"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("unknown topology 'no-such-topology'"), std::string::npos)
      << unknown.err;
  // A job that fails at run time: the reason comes back with a non-zero exit.
  testing::ProcessResult missing =
      cluster.submit_and_wait(windowed_count("out", {"--set", "input=nope.csv"}));
  EXPECT_EQ(missing.exit_code, 1) << missing.err;
  EXPECT_NE(missing.err.find("failed"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("nope.csv"), std::string::npos) << missing.err;
  testing::ProcessResult listed =
      testing::run_process(SLUICE_BINARY, {"list", "--jobmanager", cluster.address()}, dir.path());
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("windowed-count-1"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("failed"), std::string::npos) << listed.out;
  testing::ProcessResult no_job = testing::run_process(
      SLUICE_BINARY, {"cancel", "nothing-7", "--jobmanager", cluster.address()}, dir.path());
  EXPECT_EQ(no_job.exit_code, 2);
  EXPECT_NE(no_job.err.find("no job 'nothing-7'"), std::string::npos) << no_job.err;
  testing::ProcessResult unreachable =
      testing::run_process(SLUICE_BINARY, {"list", "--jobmanager", "127.0.0.1:1"}, dir.path());
  EXPECT_EQ(unreachable.exit_code, 1);
  EXPECT_NE(unreachable.err.find("127.0.0.1:1"), std::string::npos) << unreachable.err;
}

// `sluice taskmanagers` lists the registered task managers (the compose
// stack's healthchecks ask it whether a task manager is registered).
TEST(ClusterCommands, TaskManagersListsTheRegisteredOnes) {
  TempDir dir;
  ClusterProcesses cluster(SLUICE_BINARY, dir.path());
  cluster.start_jobmanager();
  cluster.start_taskmanager("tm-1", 2);
  cluster.start_taskmanager("tm-2", 3);
  testing::ProcessResult listed = testing::run_process(
      SLUICE_BINARY, {"taskmanagers", "--jobmanager", cluster.address()}, dir.path());
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  std::vector<std::string> lines = testing::non_empty_lines(listed.out);
  ASSERT_EQ(lines.size(), 3u) << listed.out;
  EXPECT_EQ(lines[0].rfind("TASK MANAGER", 0), 0u) << listed.out;
  EXPECT_EQ(lines[1].rfind("tm-1 ", 0), 0u) << listed.out;
  EXPECT_NE(lines[1].find("127.0.0.1:"), std::string::npos) << listed.out;
  EXPECT_NE(lines[2].find("    3          3"), std::string::npos) << listed.out;
  testing::ProcessResult extra = testing::run_process(
      SLUICE_BINARY, {"taskmanagers", "tm-1", "--jobmanager", cluster.address()}, dir.path());
  EXPECT_EQ(extra.exit_code, 2);
  EXPECT_NE(extra.err.find("unexpected argument 'tm-1'"), std::string::npos) << extra.err;
}

// A job that a restarted job manager could not resume is not accepted: when
// its record cannot be written, the submission fails and says why.
TEST(ClusterCommands, ASubmissionFailsWhenTheJobCannotBeRecorded) {
  TempDir dir;
  ClusterProcesses cluster(SLUICE_BINARY, dir.path());
  {
    testing::FaultsInChildren faults("fs.create:_job=eio*0");
    cluster.start_jobmanager();
  }
  cluster.start_taskmanager("tm-1", 1);
  testing::ProcessResult refused = cluster.submit_and_wait(windowed_count("out", {}));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("cannot record the job"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("Input/output error"), std::string::npos) << refused.err;
  testing::ProcessResult listed =
      testing::run_process(SLUICE_BINARY, {"list", "--jobmanager", cluster.address()}, dir.path());
  EXPECT_EQ(listed.out.find("windowed-count"), std::string::npos) << listed.out;
}

TEST(ClusterCommands, CheckpointOnDemandAndCancel) {
  TempDir dir;
  testing::WindowedCountCase c = testing::tumbling_case(40000, 100);
  testing::write_file(dir.file("in.csv"), c.csv);
  ClusterProcesses cluster(SLUICE_BINARY, dir.path());
  ChildProcess& jm = cluster.start_jobmanager();
  cluster.start_taskmanager("tm-1", 2);
  // Throttled to run for seconds; periodic checkpoints far apart.
  testing::ProcessResult submitted = testing::run_process(
      SLUICE_BINARY,
      cluster.submit_args(windowed_count(
          "out", {"--set", "rate=4000", "--parallelism", "2", "--checkpoint-interval", "10m"})),
      dir.path());
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  ASSERT_TRUE(jm.wait_for_line("all 4 tasks running", 10000)) << jm.err();
  testing::ProcessResult checkpoint = testing::run_process(
      SLUICE_BINARY, {"checkpoint", "windowed-count-1", "--jobmanager", cluster.address()},
      dir.path());
  ASSERT_EQ(checkpoint.exit_code, 0) << checkpoint.err << jm.err();
  std::string path = checkpoint.out.substr(0, checkpoint.out.find('\n'));
  EXPECT_NE(path.find("windowed-count-1/chk-1"), std::string::npos) << path;
  EXPECT_TRUE(std::filesystem::exists(dir.file(path + "/_metadata"))) << path;
  testing::ProcessResult cancelled = testing::run_process(
      SLUICE_BINARY, {"cancel", "windowed-count-1", "--jobmanager", cluster.address()}, dir.path());
  EXPECT_EQ(cancelled.exit_code, 0) << cancelled.err;
  EXPECT_EQ(cancelled.out, "windowed-count-1 cancelled\n");
  testing::ProcessResult listed =
      testing::run_process(SLUICE_BINARY, {"list", "--jobmanager", cluster.address()}, dir.path());
  EXPECT_NE(listed.out.find("cancelled"), std::string::npos) << listed.out;
  // The task manager stopped the tasks and its slots are free again.
  testing::ProcessResult next =
      cluster.submit_and_wait(windowed_count("out2", {"--parallelism", "2"}));
  EXPECT_EQ(next.exit_code, 0) << next.err << jm.err();
  EXPECT_EQ(committed_lines(dir.file("out2")), c.expected);
}

}  // namespace
}  // namespace sluice
