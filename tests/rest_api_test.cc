// The job manager's REST API and the Prometheus endpoints of a real
// cluster (a job manager and task managers as processes on loopback), and
// of `sluice run`: what they show is checked against what the test knows
// independently (the topology's graph, the checkpoint directories on
// disk, the input it wrote, the process it killed).
#include <csignal>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/cluster_process.h"
#include "tests/http_client.h"
#include "tests/process_runner.h"
#include "tests/test_support.h"

namespace sluice {
namespace {

using nlohmann::json;
using testing::ChildProcess;
using testing::ClusterProcesses;
using testing::eventually;
using testing::http_request;
using testing::number_after;
using testing::TempDir;

constexpr char kRestLine[] = "REST API and dashboard at http://";

// The port of the address http://HOST:PORT/ after `prefix` in `process`'s
// log, which it may have logged already.
int logged_port(ChildProcess& process, const std::string& prefix) {
  if (process.err().find(prefix) == std::string::npos) {
    EXPECT_TRUE(process.wait_for_line(prefix, 10000)) << process.err();
  }
  const std::string& log = process.err();
  size_t at = log.find(prefix);
  if (at == std::string::npos) return -1;
  size_t colon = log.find(':', at + prefix.size());
  return colon == std::string::npos ? -1 : std::atoi(log.c_str() + colon + 1);
}

int rest_port_of(ChildProcess& jobmanager) {
  return logged_port(jobmanager, kRestLine);
}

int metrics_port_of(ChildProcess& taskmanager) {
  return logged_port(taskmanager, "metrics at http://");
}

json get(int port, const std::string& path) {
  auto reply = http_request(port, "GET", path);
  EXPECT_EQ(reply.status, 200) << path << ": " << reply.body;
  return reply.json();
}

// The demo job, throttled so that it runs while the test looks at it.
json demo_submission(const std::string& out) {
  return json{{"topology", "demo"},
              {"args",
               {"--parallelism", "2", "--state", "rocksdb", "--checkpoint-interval", "500ms",
                "--restart-delay", "200ms", "--set", "duration=300s", "--set", "rate=4000", "--set",
                "output=" + out, "--set", "sample=0"}}};
}

// The values of metric `name` in a Prometheus text, one per label set.
std::vector<double> metric_values(const std::string& text, const std::string& name) {
  std::vector<double> values;
  for (const std::string& line : testing::non_empty_lines(text)) {
    if (line.rfind(name + "{", 0) != 0 && line.rfind(name + " ", 0) != 0) continue;
    values.push_back(std::stod(line.substr(line.rfind(' ') + 1)));
  }
  return values;
}

// The records the job's sources sent on; 0 while the job is not there yet.
uint64_t source_records_out(int port, const std::string& job) {
  auto reply = http_request(port, "GET", "/jobs/" + job);
  if (reply.status == 404) return 0;
  EXPECT_EQ(reply.status, 200) << reply.body;
  json detail = reply.json();
  for (const json& v : detail["vertices"]) {
    if (v["source"].get<bool>()) return v["metrics"]["records-out"].get<uint64_t>();
  }
  return 0;
}

std::string job_state(int port, const std::string& job) {
  return get(port, "/jobs/" + job)["state"].get<std::string>();
}

class RestCluster : public ::testing::Test {
 protected:
  void start(const std::vector<std::string>& jobmanager_args = {}) {
    std::vector<std::string> args{"--rest-port", "0"};
    args.insert(args.end(), jobmanager_args.begin(), jobmanager_args.end());
    cluster_.start_jobmanager(0, args);
    rest_ = rest_port_of(cluster_.jobmanager());
    for (const char* id : {"tm-1", "tm-2"}) {
      cluster_.start_taskmanager(id, 2, {"--metrics-port", "0"});
    }
  }

  // Submits the demo job over REST; its id once its sources send records,
  // else empty.
  std::string submit_running_demo() {
    auto submitted = http_request(rest_, "POST", "/jobs", demo_submission(dir_.file("out")).dump());
    EXPECT_EQ(submitted.status, 202) << submitted.body;
    if (submitted.status != 202) return "";
    std::string job = submitted.json()["jobid"];
    bool running = eventually([&] { return source_records_out(rest_, job) > 0; });
    EXPECT_TRUE(running) << "job " << job << " sends no records";
    return running ? job : "";
  }

  TempDir dir_;
  ClusterProcesses cluster_{SLUICE_BINARY, dir_.path()};
  int rest_ = 0;
};

TEST_F(RestCluster, ShowsARunningJobItsCheckpointsAndAFailureAndTakesChanges) {
  start();
  json overview = get(rest_, "/overview");
  EXPECT_EQ(overview["taskmanagers"], 2);
  EXPECT_EQ(overview["slots-total"], 4);
  auto submitted = http_request(rest_, "POST", "/jobs", demo_submission(dir_.file("out")).dump());
  ASSERT_EQ(submitted.status, 202) << submitted.body;
  std::string job = submitted.json()["jobid"];
  EXPECT_EQ(job, "demo-1");
  ASSERT_TRUE(eventually([&] { return job_state(rest_, job) == "running"; }));

  // The graph: the demo's chains, as the topology builds them, and their edges.
  json detail = get(rest_, "/jobs/" + job);
  std::vector<std::string> names;
  for (const json& v : detail["vertices"]) names.push_back(v["name"]);
  EXPECT_EQ(names,
            (std::vector<std::string>{"page-views", "count -> output -> popular", "sample"}));
  EXPECT_EQ(detail["vertices"][0]["parallelism"], 2);
  EXPECT_EQ(detail["vertices"][2]["parallelism"], 1);
  EXPECT_EQ(detail["edges"], json::parse(R"([{"source":"0","target":"1","partitioning":"hash"},
                                             {"source":"1","target":"2","partitioning":"rebalance"}])"));
  EXPECT_EQ(detail["mode"], "continuous");

  // Records flow: the source's count grows, and a vertex's figures are the
  // sums over its subtasks, placed on both task managers.
  uint64_t first = 0;
  ASSERT_TRUE(eventually([&] { return (first = source_records_out(rest_, job)) > 0; }));
  ASSERT_TRUE(eventually([&] { return source_records_out(rest_, job) > first; }));
  json counting = get(rest_, "/jobs/" + job + "/vertices/1");
  ASSERT_EQ(counting["subtasks"].size(), 2u);
  std::set<std::string> placed;
  for (const json& s : counting["subtasks"]) {
    placed.insert(s["taskmanager"].get<std::string>());
    EXPECT_EQ(s["status"], "running");
  }
  EXPECT_EQ(placed, (std::set<std::string>{"tm-1", "tm-2"}));
  EXPECT_EQ(http_request(rest_, "GET", "/jobs/" + job + "/vertices/3").status, 404);
  EXPECT_EQ(http_request(rest_, "GET", "/jobs/" + job + "/vertices/x").status, 404);

  // A triggered checkpoint shows in the history once it completed, and it
  // is on disk.
  int64_t requested = 0;
  ASSERT_TRUE(eventually([&] {
    auto reply = http_request(rest_, "POST", "/jobs/" + job + "/checkpoints");
    if (reply.status == 409) return false;  // a periodic one in progress
    EXPECT_EQ(reply.status, 202) << reply.body;
    requested = reply.json()["request-id"];
    return true;
  }));
  json done;
  json history;
  ASSERT_TRUE(eventually([&] {
    history = get(rest_, "/jobs/" + job + "/checkpoints")["history"];
    for (const json& c : history) {
      if (c["id"] == requested && c["status"] == "COMPLETED") done = c;
    }
    return !done.is_null();
  })) << "checkpoint "
      << requested << " not completed: " << history.dump();
  EXPECT_EQ(done["num_acknowledged_subtasks"], done["num_subtasks"]);
  EXPECT_EQ(done["num_subtasks"], 5);
  EXPECT_GT(done["state_size"].get<int64_t>(), 0);
  EXPECT_GE(done["end_timestamp"].get<int64_t>(), done["trigger_timestamp"].get<int64_t>());
  EXPECT_TRUE(
      std::filesystem::exists(dir_.file(fmt::format("ck/{}/chk-{}/_metadata", job, requested))));

  // Prometheus, on the job manager and on a task manager.
  auto metrics = http_request(rest_, "GET", "/metrics");
  EXPECT_EQ(metrics.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics.body.find("sluice_numRegisteredTaskManagers 2\n"), std::string::npos);
  EXPECT_NE(metrics.body.find("sluice_numRecordsOut{job=\"demo-1\",vertex=\"page-views\","
                              "subtask=\"0\",task_manager=\"tm-"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("sluice_numberOfCompletedCheckpoints{job=\"demo-1\"}"),
            std::string::npos);
  int tm_metrics = metrics_port_of(cluster_.taskmanager(0));
  auto tm = http_request(tm_metrics, "GET", "/metrics");
  EXPECT_EQ(tm.status, 200);
  EXPECT_NE(tm.body.find("task_manager=\"tm-1\""), std::string::npos) << tm.body;
  EXPECT_NE(tm.body.find("sluice_busyTimeMsPerSecond{job=\"demo-1\""), std::string::npos);
  EXPECT_NE(tm.body.find("sluice_job_records_in{job=\"demo-1\",task_manager=\"tm-1\"}"),
            std::string::npos);
  // The RocksDB instance of the counting operator here, and its state.
  for (const char* name :
       {"sluice_rocksdb_block_cache_usage_bytes", "sluice_rocksdb_pending_compaction_bytes",
        "sluice_rocksdb_live_data_bytes", "sluice_state_entries"}) {
    EXPECT_EQ(metric_values(tm.body, name).size(), 1u) << name << " in " << tm.body;
  }
  EXPECT_TRUE(eventually([&] {
    std::string text = http_request(tm_metrics, "GET", "/metrics").body;
    auto memtable = metric_values(text, "sluice_rocksdb_memtable_bytes");
    auto entries = metric_values(text, "sluice_state_entries");
    return memtable.size() == 1 && memtable[0] > 0 && entries.size() == 1 && entries[0] > 0;
  }));
  EXPECT_EQ(http_request(tm_metrics, "GET", "/").status, 404);

  // A task manager killed: an exception naming it, a restart, running again.
  cluster_.taskmanager(1).kill_hard();
  json exceptions;
  ASSERT_TRUE(eventually([&] {
    exceptions = get(rest_, "/jobs/" + job + "/exceptions")["exceptions"];
    return !exceptions.empty();
  }));
  EXPECT_EQ(exceptions[0]["taskmanager"], "tm-2");
  EXPECT_EQ(exceptions[0]["attempt"], 0);
  EXPECT_NE(exceptions[0]["message"].get<std::string>().find("task manager tm-2 lost"),
            std::string::npos);
  ASSERT_TRUE(eventually([&] {
    json d = get(rest_, "/jobs/" + job);
    return d["restarts"] == 1 && d["state"] == "running" && d["attempt"] == 1;
  }));
  json tms = get(rest_, "/taskmanagers")["taskmanagers"];
  ASSERT_EQ(tms.size(), 1u);
  EXPECT_EQ(tms[0]["id"], "tm-1");
  EXPECT_GT(tms[0]["memory"]["rss"].get<uint64_t>(), 0u);

  // Cancelled over REST; a second cancel and a checkpoint then conflict.
  EXPECT_EQ(http_request(rest_, "POST", "/jobs/" + job + "/cancel").status, 202);
  ASSERT_TRUE(eventually([&] { return job_state(rest_, job) == "cancelled"; }));
  EXPECT_EQ(http_request(rest_, "PATCH", "/jobs/" + job).status, 409);
  EXPECT_EQ(http_request(rest_, "POST", "/jobs/" + job + "/checkpoints").status, 409);
  EXPECT_EQ(get(rest_, "/overview")["jobs-cancelled"], 1);
}

TEST_F(RestCluster, RefusesBadSubmissionsAndUnknownJobsWithReasons) {
  start();
  auto unknown = http_request(rest_, "POST", "/jobs", R"({"topology": "no-such"})");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(unknown.json()["error"], "unknown topology 'no-such' (see sluice topologies)");
  auto bad_option = http_request(rest_, "POST", "/jobs",
                                 R"({"topology": "demo", "args": ["--parallelism", "0"]})");
  EXPECT_EQ(bad_option.status, 400);
  EXPECT_NE(bad_option.json()["error"].get<std::string>().find("--parallelism"), std::string::npos);
  auto extra = http_request(rest_, "POST", "/jobs", R"({"topology": "demo", "jar": "x"})");
  EXPECT_EQ(extra.status, 400);
  auto not_strings = http_request(rest_, "POST", "/jobs", R"({"topology": "demo", "args": [1]})");
  EXPECT_EQ(not_strings.status, 400);
  // What can be submitted, as `sluice topologies` lists it.
  json topologies = get(rest_, "/topologies")["topologies"];
  std::map<std::string, json> by_name;
  for (const json& t : topologies) by_name[t["name"]] = t;
  ASSERT_TRUE(by_name.count("windowed-count"));
  bool input_required = false;
  for (const json& p : by_name["windowed-count"]["params"]) {
    if (p["name"] == "input") input_required = p["required"];
  }
  EXPECT_TRUE(input_required);
  std::string listed = testing::run_process(SLUICE_BINARY, {"topologies"}, dir_.path()).out;
  for (const auto& [name, t] : by_name) {
    EXPECT_NE(listed.find(name + "\n"), std::string::npos) << name;
  }
  EXPECT_EQ(http_request(rest_, "GET", "/jobs/none").status, 404);
  EXPECT_EQ(http_request(rest_, "POST", "/jobs/none/cancel").status, 404);
  EXPECT_EQ(http_request(rest_, "PATCH", "/jobs/none?mode=stop").status, 400);
  EXPECT_TRUE(get(rest_, "/jobs")["jobs"].empty());
}

TEST_F(RestCluster, ATokenFileGuardsEveryChange) {
  testing::write_file(dir_.file("token"), "  t0ken-123\n");
  start({"--rest-token-file", "token"});
  // With a token, the API may listen beyond this machine.
  EXPECT_NE(cluster_.jobmanager().err().find("REST API and dashboard at http://0.0.0.0:"),
            std::string::npos);
  std::string body = demo_submission("out").dump();
  EXPECT_EQ(http_request(rest_, "POST", "/jobs", body).status, 401);
  EXPECT_TRUE(get(rest_, "/jobs")["jobs"].empty());
  auto accepted =
      http_request(rest_, "POST", "/jobs", body, {{"Authorization", "Bearer t0ken-123"}});
  ASSERT_EQ(accepted.status, 202) << accepted.body;
  std::string job = accepted.json()["jobid"];
  EXPECT_EQ(http_request(rest_, "POST", "/jobs/" + job + "/cancel").status, 401);
  EXPECT_EQ(http_request(rest_, "POST", "/jobs/" + job + "/cancel", "",
                         {{"Authorization", "Bearer t0ken-123"}})
                .status,
            202);
}

// `sluice stop --drain --savepoint-dir`: the sources end, the final
// checkpoint commits and is a savepoint too, and the job finishes; a stop of
// an unknown job is refused.
TEST_F(RestCluster, StopWithDrainFromTheCommandLineFinishesTheJob) {
  start();
  std::string job = submit_running_demo();
  ASSERT_FALSE(job.empty());
  auto unknown = testing::run_process(
      SLUICE_BINARY, {"stop", "nope", "--drain", "--jobmanager", cluster_.address()}, dir_.path());
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_EQ(job_state(rest_, job), "running");

  auto drained = testing::run_process(SLUICE_BINARY,
                                      {"stop", job, "--drain", "--savepoint-dir", dir_.file("sp"),
                                       "--jobmanager", cluster_.address()},
                                      dir_.path());
  EXPECT_EQ(drained.exit_code, 0) << drained.err;
  EXPECT_NE(drained.err.find("job " + job + " finished"), std::string::npos) << drained.err;
  EXPECT_EQ(job_state(rest_, job), "finished");
  json latest = get(rest_, "/jobs/" + job + "/checkpoints")["latest"]["completed"];
  EXPECT_EQ(latest["final"], true);
  EXPECT_EQ(latest["is_savepoint"], true);
  std::string savepoint = latest["external_path"];
  EXPECT_EQ(drained.out, savepoint + "\n");
  EXPECT_EQ(savepoint.rfind(dir_.file("sp") + "/savepoint-" + job + "-", 0), 0u) << savepoint;
  EXPECT_TRUE(std::filesystem::exists(savepoint + "/_metadata")) << savepoint;
}

// Savepoints of a running job, from the command line and over REST, then
// `sluice stop` without --drain: each savepoint is a directory of its own
// with its metadata, shown in the checkpoint history; the stop ends the job
// with a last savepoint that it names.
TEST_F(RestCluster, TakesSavepointsAndStopsWithOne) {
  start();
  std::string job = submit_running_demo();
  ASSERT_FALSE(job.empty());
  std::vector<std::string> address{"--jobmanager", cluster_.address()};
  auto with_address = [&](std::vector<std::string> args) {
    args.insert(args.end(), address.begin(), address.end());
    return testing::run_process(SLUICE_BINARY, args, dir_.path());
  };

  auto taken = with_address({"savepoint", job, "--dir", dir_.file("sp")});
  ASSERT_EQ(taken.exit_code, 0) << taken.err;
  std::string first = testing::non_empty_lines(taken.out).at(0);
  EXPECT_EQ(first.rfind(dir_.file("sp") + "/savepoint-" + job + "-", 0), 0u) << first;
  EXPECT_TRUE(std::filesystem::exists(first + "/_metadata")) << first;
  EXPECT_FALSE(std::filesystem::exists(dir_.file("sp") + "/shared"));
  bool listed = false;
  json checkpoints = get(rest_, "/jobs/" + job + "/checkpoints");
  for (const json& c : checkpoints["history"]) {
    listed |= c["is_savepoint"] == true && c["external_path"] == first;
  }
  EXPECT_TRUE(listed) << "the savepoint is in the checkpoint history: " << checkpoints.dump();

  auto bad =
      http_request(rest_, "POST", "/jobs/" + job + "/savepoints", R"({"target-directory": 5})");
  EXPECT_EQ(bad.status, 400) << bad.body;
  auto control = http_request(rest_, "POST", "/jobs/" + job + "/savepoints",
                              R"({"target-directory": "sp\u0001"})");
  EXPECT_EQ(control.status, 400) << control.body;
  auto triggered = http_request(rest_, "POST", "/jobs/" + job + "/savepoints",
                                json{{"target-directory", dir_.file("sp2")}}.dump());
  ASSERT_EQ(triggered.status, 202) << triggered.body;
  std::string request = triggered.json()["request-id"];
  std::string status_path = "/jobs/" + job + "/savepoints/" + request;
  ASSERT_TRUE(eventually([&] { return get(rest_, status_path)["status"]["id"] == "COMPLETED"; }));
  json operation = get(rest_, status_path)["operation"];
  EXPECT_FALSE(operation.contains("failure-cause")) << operation;
  std::string second = operation.value("location", "");
  EXPECT_TRUE(std::filesystem::exists(second + "/_metadata")) << operation;
  EXPECT_EQ(http_request(rest_, "GET", "/jobs/" + job + "/savepoints/99").status, 404);
  EXPECT_EQ(http_request(rest_, "GET", "/jobs/" + job + "/savepoints/x").status, 404);

  auto stopped = with_address({"stop", job, "--savepoint-dir", dir_.file("sp3")});
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  std::string last = testing::non_empty_lines(stopped.out).at(0);
  EXPECT_TRUE(std::filesystem::exists(last + "/_metadata")) << last;
  EXPECT_NE(stopped.err.find("job " + job + " finished: stopped with a savepoint in " + last),
            std::string::npos)
      << stopped.err;
  EXPECT_EQ(job_state(rest_, job), "finished");
  auto again = with_address({"savepoint", job});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("not running"), std::string::npos) << again.err;
}

// Late records dropped by a window with no late-data output: counted where
// they are dropped, reported with the heartbeats, summed by the job manager.
TEST_F(RestCluster, CountsTheLateRecordsTheJobDrops) {
  constexpr int kLate = 10;
  std::string lines;
  for (int i = 0; i < 30000; ++i) {
    lines += fmt::format("{},k{},1\n", 10'000 + i, i % 5);
    if (i == 5000) {
      for (int late = 0; late < kLate; ++late) lines += fmt::format("{},k0,1\n", late);
    }
  }
  testing::write_file(dir_.file("in.csv"), lines);
  start();
  auto submitted = http_request(rest_, "POST", "/jobs",
                                json{{"topology", "windowed-count"},
                                     {"args",
                                      {"--set", "input=in.csv", "--set", "output=out", "--set",
                                       "rate=5000", "--set", "window=tumbling:1s"}}}
                                    .dump());
  ASSERT_EQ(submitted.status, 202) << submitted.body;
  std::string job = submitted.json()["jobid"];
  std::string want = fmt::format("sluice_numLateRecordsDropped{{job=\"{}\"}} {}\n", job, kLate);
  std::string text;
  EXPECT_TRUE(eventually([&] {
    text = http_request(rest_, "GET", "/metrics").body;
    return text.find(want) != std::string::npos;
  })) << text;
  EXPECT_EQ(get(rest_, "/jobs/" + job)["late-records-dropped"], kLate);
}

TEST(RestMicroBatch, ShowsEachBatchWithItsOffsets) {
  TempDir dir;
  std::string lines;
  constexpr int kLines = 5000;
  for (int i = 0; i < kLines; ++i) lines += fmt::format("{},k{},1\n", 1000 + i, i % 7);
  testing::write_file(dir.file("in.csv"), lines);
  ClusterProcesses cluster(SLUICE_BINARY, dir.path());
  cluster.start_jobmanager(0, {"--rest-port", "0"});
  int rest = rest_port_of(cluster.jobmanager());
  cluster.start_taskmanager("tm-1", 1);
  auto result =
      cluster.submit_and_wait({"windowed-count", "--set", "input=in.csv", "--set", "output=out",
                               "--mode", "microbatch", "--max-records-per-batch", "1000"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  json batches = get(rest, "/jobs/windowed-count-1/batches")["batches"];
  ASSERT_GE(batches.size(), 5u);
  int64_t rows = 0;
  json previous_end;
  for (const json& b : batches) {
    rows += b["numInputRows"].get<int64_t>();
    ASSERT_EQ(b["sources"].size(), 1u);
    const json& source = b["sources"][0];
    EXPECT_EQ(source["numInputRows"], b["numInputRows"]);
    int64_t read = 0;
    for (const auto& [split, end] : source["endOffset"].items()) {
      read += end.get<int64_t>() - source["startOffset"][split].get<int64_t>();
    }
    EXPECT_LE(read, 1000);
    if (!previous_end.is_null()) {
      EXPECT_EQ(source["startOffset"], previous_end);
    }
    previous_end = source["endOffset"];
    EXPECT_EQ(b["durationMs"]["triggerExecution"], b["durationMs"]["queryPlanning"].get<int64_t>() +
                                                       b["durationMs"]["addBatch"].get<int64_t>() +
                                                       b["durationMs"]["walCommit"].get<int64_t>());
  }
  EXPECT_EQ(rows, kLines);
  EXPECT_EQ(get(rest, "/jobs/windowed-count-1")["mode"], "micro-batch");
}

TEST(RestLocalRun, ServesTheApiWhileTheJobRunsAndCancelsIt) {
  TempDir dir;
  ChildProcess run(SLUICE_BINARY,
                   {"run", "demo", "--rest-port", "0", "--set", "duration=300s", "--set",
                    "rate=2000", "--set", "output=out", "--set", "sample=0"},
                   dir.path());
  const std::string line = "dashboard and REST API at http://";
  int rest = logged_port(run, line);
  ASSERT_TRUE(eventually([&] {
    json jobs = get(rest, "/jobs")["jobs"];
    return jobs.size() == 1 && jobs[0]["state"] == "running";
  }));
  EXPECT_EQ(get(rest, "/taskmanagers")["taskmanagers"][0]["id"], "local");
  EXPECT_EQ(http_request(rest, "POST", "/jobs/demo/cancel").status, 202);
  EXPECT_EQ(run.wait(), 130);  // cancelled, as by Ctrl-C
}

// `sluice run --on-sigterm stop`: SIGTERM stops the job with a savepoint,
// which the summary names.
TEST(RunSignals, SigtermStopsAJobWithASavepoint) {
  TempDir dir;
  ChildProcess run(SLUICE_BINARY,
                   {"run", "demo", "--on-sigterm", "stop", "--set", "duration=300s", "--set",
                    "rate=2000", "--set", "output=out", "--set", "sample=0", "--rest-port", "0",
                    "--checkpoint-dir", "ck", "--checkpoint-interval", "200ms"},
                   dir.path());
  int rest = logged_port(run, "dashboard and REST API at http://");
  ASSERT_TRUE(eventually([&] { return source_records_out(rest, "demo") > 0; })) << run.err();
  run.send_signal(SIGTERM);
  EXPECT_EQ(run.wait(), 0) << run.err();
  std::string savepoint =
      testing::rest_of_line_after(run.err(), "stopped with a savepoint: resume with --restore ");
  ASSERT_FALSE(savepoint.empty()) << run.err();
  EXPECT_EQ(savepoint.rfind(dir.file("ck/savepoints/savepoint-demo-"), 0), 0u) << savepoint;
  EXPECT_TRUE(std::filesystem::exists(savepoint + "/_metadata")) << savepoint;
}

// `sluice run --on-sigterm drain`: SIGTERM drains the job, which finishes;
// a job that cannot drain (no checkpoints) is cancelled instead, saying why.
TEST(RunSignals, SigtermDrainsAJobWithCheckpointsAndCancelsOneWithout) {
  TempDir dir;
  for (bool checkpoints : {true, false}) {
    std::vector<std::string> args{
        "run",       "demo",  "--on-sigterm", "drain", "--set",    "duration=300s", "--set",
        "rate=2000", "--set", "output=out",   "--set", "sample=0", "--rest-port",   "0"};
    if (checkpoints) {
      args.insert(args.end(), {"--checkpoint-dir", "ck", "--checkpoint-interval", "200ms"});
    }
    ChildProcess run(SLUICE_BINARY, args, dir.path());
    int rest = logged_port(run, "dashboard and REST API at http://");
    ASSERT_TRUE(eventually([&] { return source_records_out(rest, "demo") > 0; })) << run.err();
    run.send_signal(SIGTERM);
    if (checkpoints) {
      EXPECT_EQ(run.wait(), 0) << run.err();
      EXPECT_NE(run.err().find("job finished"), std::string::npos) << run.err();
    } else {
      EXPECT_EQ(run.wait(), 130) << run.err();
      EXPECT_NE(run.err().find("cannot stop the job (job demo has no checkpoints"),
                std::string::npos)
          << run.err();
    }
  }
}

}  // namespace
}  // namespace sluice
