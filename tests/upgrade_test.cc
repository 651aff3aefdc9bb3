// Restoring a checkpoint into a changed topology: operator state is matched
// by the operators' stable names. Two versions of a word-count job run on
// the embedded cluster: the second reads another source, adds a filter and
// a new keyed operator, and no longer has the first one's extra keyed
// operator or its source and sink. Its restore is refused, naming what
// would be lost, until --allow-non-restored-state; then the shared
// operator's counts go on from where the first version left them.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "connectors/file_sink.h"
#include "connectors/file_source.h"
#include "runtime/cluster/local_cluster.h"
#include "runtime/job/registry.h"
#include "tests/process_runner.h"

namespace sluice {
namespace {

using testing::TempDir;

struct Count {
  std::string word;
  int64_t count = 0;
  SLUICE_FIELDS(word, count)
};

void format_count(const Count& c, std::string& out) {
  out += fmt::format("{},{}", c.word, c.count);
}

// The count of the word so far, after each occurrence.
struct RunningCount {
  ValueState<int64_t> count;
  void open(KeyedStateBackend& state) { count = state.value_state<int64_t>("count"); }
  void process(const std::string&, KeyedContext<std::string, Count>& ctx) {
    int64_t n = count.value().value_or(0) + 1;
    count.update(n);
    ctx.emit(Count{ctx.key(), n});
  }
};

// Passes counts on, keeping a keyed value of its own (state to keep or drop).
struct KeepsLast {
  ValueState<int64_t> last;
  void open(KeyedStateBackend& state) { last = state.value_state<int64_t>("last"); }
  void process(const Count& c, KeyedContext<std::string, Count>& ctx) {
    last.update(c.count);
    ctx.emit(c);
  }
};

Stream<std::string> words(Topology& topology, const std::string& name, const std::string& path) {
  FileSourceOptions options;
  options.path = path;
  auto word = [](std::string_view text, const LineLocation&) {
    return std::optional<std::string>(text);
  };
  return topology.source<std::string>(
      name, std::make_shared<FileSource<std::string, decltype(word)>>(options, word));
}

std::shared_ptr<const Sink<Count>> counts_to(const std::string& directory) {
  FileSinkOptions options;
  options.directory = directory;
  return std::make_shared<FileSink<Count, decltype(&format_count)>>(options, &format_count);
}

auto by_word = [](const Count& c) { return c.word; };
auto itself = [](const std::string& w) { return w; };

const std::vector<ParamSpec> kParams{{"input", "words, one per line", "", true},
                                     {"output", "word,count part files", "", true}};

SLUICE_TOPOLOGY(TopologySpec{"upgrade-v1", "word counts, version 1", kParams,
                             [](Topology& topology, const Params& params) {
                               words(topology, "words-a", params.get("input"))
                                   .key_by(itself)
                                   .process<Count>("count", RunningCount{})
                                   .key_by(by_word)
                                   .process<Count>("extra", KeepsLast{})
                                   .sink("out-a", counts_to(params.get("output")));
                             }});

// Version 2: another source, a filter before the counts, a new keyed
// operator after them; "count" is the same operator.
SLUICE_TOPOLOGY(TopologySpec{
    "upgrade-v2", "word counts, version 2", kParams, [](Topology& topology, const Params& params) {
      words(topology, "words-b", params.get("input"))
          .filter("no-empty", [](const std::string& w) { return !w.empty(); })
          .key_by(itself)
          .process<Count>("count", RunningCount{})
          .key_by(by_word)
          .process<Count>("keeps-last", KeepsLast{})
          .sink("out-b", counts_to(params.get("output")));
    }});

LocalClusterResult run(const std::string& topology, std::vector<std::string> args) {
  LocalClusterJob job;
  job.name = topology;
  job.spec.set_topology(topology);
  for (const std::string& arg : args) job.spec.add_args(arg);
  return run_on_local_cluster(job);
}

// The newest checkpoint directory of `job` under `root`.
std::string newest_checkpoint(const std::string& root, const std::string& job) {
  std::string newest;
  int64_t newest_id = -1;
  for (const auto& entry : std::filesystem::directory_iterator(root + "/" + job)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("chk-", 0) != 0) continue;
    int64_t id = std::stoll(name.substr(4));
    if (id > newest_id && std::filesystem::exists(entry.path() / "_metadata")) {
      newest_id = id;
      newest = entry.path().string();
    }
  }
  return newest;
}

// The last count of every word in the committed output.
std::map<std::string, int64_t> last_counts(const std::string& directory) {
  std::map<std::string, int64_t> counts;
  for (const std::string& line : testing::committed_lines(directory)) {
    size_t comma = line.find(',');
    int64_t n = std::stoll(line.substr(comma + 1));
    int64_t& kept = counts[line.substr(0, comma)];
    kept = std::max(kept, n);
  }
  return counts;
}

TEST(Upgrade, KeepsTheSharedOperatorsStateAndRefusesToDropStateUnlessTold) {
  TempDir dir;
  std::map<std::string, int64_t> expected;
  std::string a;
  std::string b;
  for (int i = 0; i < 300; ++i) {
    std::string word = fmt::format("w{}", i % 7);
    a += word + "\n";
    ++expected[word];
  }
  for (int i = 0; i < 200; ++i) {
    std::string word = fmt::format("w{}", i % 11);
    b += word + "\n" + (i % 50 == 0 ? "\n" : "");  // empty lines: the new filter drops them
    ++expected[word];
  }
  testing::write_file(dir.file("a.txt"), a);
  testing::write_file(dir.file("b.txt"), b);
  std::vector<std::string> checkpoints{"--checkpoint-dir", dir.file("ck"), "--checkpoint-interval",
                                       "50ms"};

  std::vector<std::string> v1_args{"--set", "input=" + dir.file("a.txt"), "--set",
                                   "output=" + dir.file("out-a")};
  v1_args.insert(v1_args.end(), checkpoints.begin(), checkpoints.end());
  LocalClusterResult v1 = run("upgrade-v1", v1_args);
  ASSERT_FALSE(v1.job.failure) << v1.job.failure->message;
  std::string final_checkpoint = newest_checkpoint(dir.file("ck"), "upgrade-v1");
  ASSERT_FALSE(final_checkpoint.empty());

  std::vector<std::string> v2_args{"--set",     "input=" + dir.file("b.txt"),
                                   "--set",     "output=" + dir.file("out-b"),
                                   "--restore", final_checkpoint};
  v2_args.insert(v2_args.end(), checkpoints.begin(), checkpoints.end());
  LocalClusterResult refused = run("upgrade-v2", v2_args);
  ASSERT_TRUE(refused.job.failure);
  EXPECT_EQ(refused.job.failure->kind, ErrorKind::kUsage);
  EXPECT_NE(refused.job.failure->message.find(
                "holds the state of operators 'extra', 'out-a', 'words-a', which the topology "
                "upgrade-v2 no longer has; restore with --allow-non-restored-state"),
            std::string::npos)
      << refused.job.failure->message;
  EXPECT_FALSE(std::filesystem::exists(dir.file("out-b")) &&
               !testing::committed_lines(dir.file("out-b")).empty());

  v2_args.push_back("--allow-non-restored-state");
  LocalClusterResult v2 = run("upgrade-v2", v2_args);
  ASSERT_FALSE(v2.job.failure) << v2.job.failure->message;
  // Every word of the second input counts on from the first version's
  // counts; the words only the first input has are not written again.
  std::map<std::string, int64_t> want;
  for (int i = 0; i < 11; ++i) want[fmt::format("w{}", i)] = expected[fmt::format("w{}", i)];
  EXPECT_EQ(last_counts(dir.file("out-b")), want);
}

}  // namespace
}  // namespace sluice
