// Micro-batch mode against continuous mode, end to end through the sluice
// binary: every example topology (but nexmark, in nexmark_test.cc) commits
// the same output in both modes on the same bounded input, at parallelism 2
// and 3, in capped batches and with the once and available-now triggers; and
// how many batches those triggers take. The continuous runs are checked
// against independent references in topologies_test.cc and nexmark_test.cc;
// here they are the reference of the micro-batch runs.
#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/process_runner.h"

namespace sluice {
namespace {

using testing::committed_lines;
using testing::ProcessResult;
using testing::TempDir;
using testing::write_file;

using Lines = std::vector<std::string>;

ProcessResult sluice(const std::vector<std::string>& args, const std::string& workdir) {
  return testing::run_process(SLUICE_BINARY, args, workdir);
}

Lines with(Lines args, const Lines& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// windowed-count input: `n` CSV lines event_time_ms,key,value in roughly
// increasing time, each at most 40 ms out of order (the runs' out-of-
// orderness, so that no line is late in either mode).
std::string windowed_count_input(int n) {
  std::mt19937_64 rng(17);
  std::string csv;
  for (int i = 0; i < n; ++i) {
    int64_t t = 1767225600000 + i * 3 + static_cast<int64_t>(rng() % 41);
    uint64_t key = rng() % 13;
    int64_t value = static_cast<int64_t>(rng() % 200) - 50;
    csv += fmt::format("{},k{},{}\n", t, key, value);
  }
  return csv;
}

// wordcount input: `n` lines of words in mixed case with punctuation and
// apostrophes, some lines empty.
std::string wordcount_input(int n) {
  const char* words[] = {"alpha", "Beta", "GAMMA", "delta", "it's", "zeta", "eta", "theta"};
  std::mt19937 rng(23);
  std::string text;
  for (int i = 0; i < n; ++i) {
    for (unsigned w = rng() % 7; w > 0; --w) text += std::string(words[rng() % 8]) + " ";
    text += i % 5 == 0 ? "end.\n" : "\n";
  }
  return text;
}

// What of a topology's committed output both modes must agree on.
enum class Compare {
  kLines,         // every committed line
  kPageAndDwell,  // page-views: the page and dwell columns of every line
  kPageTotals,    // demo: views and dwell time per page, summed over the windows
};

struct TopologyCase {
  std::string name;  // of the test
  Lines run;         // the topology and its parameters but output
  Compare compare = Compare::kLines;
  // Records per split and batch of the capped runs: several batches each.
  std::string batch_cap;
  // The once and available-now triggers read what is available when the
  // job starts. A throttled generator (page-views, demo) has released next
  // to nothing then, by design, so they would read a prefix of the input:
  // such topologies run in back-to-back batches only.
  bool available_at_start = true;
};

void PrintTo(const TopologyCase& c, std::ostream* os) {
  *os << c.name;
}

// page-views and demo stamp event times from the wall clock at the start of
// the run, so event times and window bounds differ from run to run. What is
// deterministic: the page and dwell time of every view (a function of the
// seed and the view's index), and so, the views being in no window twice
// (tumbling) and none late (they are at most 500 ms out of order, the
// watermark's delay), each page's views and dwell time over all windows.
Lines comparable(Compare compare, const std::string& output) {
  Lines lines = committed_lines(output);
  if (compare == Compare::kLines) return lines;
  if (compare == Compare::kPageAndDwell) {
    for (std::string& line : lines) line = line.substr(line.find(',') + 1);
    std::sort(lines.begin(), lines.end());
    return lines;
  }
  std::map<std::string, std::pair<int64_t, int64_t>> totals;  // page -> (views, dwell)
  for (const std::string& line : lines) {
    std::istringstream fields(line);  // window_start,window_end,page,count,sum
    std::string start, end, page, count, sum;
    std::getline(fields, start, ',');
    std::getline(fields, end, ',');
    std::getline(fields, page, ',');
    std::getline(fields, count, ',');
    std::getline(fields, sum, ',');
    totals[page].first += std::stoll(count);
    totals[page].second += std::stoll(sum);
  }
  Lines out;
  for (const auto& [page, t] : totals)
    out.push_back(fmt::format("{},{},{}", page, t.first, t.second));
  return out;
}

size_t entries_in(const std::string& dir) {
  if (!std::filesystem::exists(dir)) return 0;
  return static_cast<size_t>(std::distance(std::filesystem::directory_iterator(dir),
                                           std::filesystem::directory_iterator()));
}

// One micro-batch run of a case.
struct Variant {
  std::string name;
  std::string parallelism;
  Lines options;
  bool capped;  // several batches expected
};

class MicroBatchTopologyTest : public ::testing::TestWithParam<TopologyCase> {};

// Continuous at parallelism 2, then micro-batch at parallelism 2 and 3 in
// capped batches, once, and available-now in capped batches: the same
// committed output.
TEST_P(MicroBatchTopologyTest, CommitsWhatContinuousModeCommits) {
  const TopologyCase& c = GetParam();
  TempDir dir;
  write_file(dir.file("in.csv"), windowed_count_input(6000));
  write_file(dir.file("in.txt"), wordcount_input(2000));
  const Lines run = with({"run"}, c.run);
  ProcessResult continuous =
      sluice(with(run, {"--set", "output=continuous", "--parallelism", "2"}), dir.path());
  ASSERT_EQ(continuous.exit_code, 0) << continuous.err;
  Lines expected = comparable(c.compare, dir.file("continuous"));
  ASSERT_FALSE(expected.empty());

  const Lines cap = {"--max-records-per-batch", c.batch_cap};
  std::vector<Variant> variants = {{"p2", "2", cap, true}, {"p3", "3", cap, true}};
  if (c.available_at_start) {
    variants.push_back({"once-p3", "3", {"--trigger", "once"}, false});
    variants.push_back({"available-now-p2", "2", with({"--trigger", "available-now"}, cap), true});
  }
  for (const Variant& v : variants) {
    SCOPED_TRACE("micro-batch " + v.name);
    std::string output = "out-" + v.name;
    std::string checkpoints = "ck-" + v.name;
    ProcessResult r =
        sluice(with(run, with({"--set", "output=" + output, "--parallelism", v.parallelism,
                               "--mode", "microbatch", "--checkpoint-dir", checkpoints},
                              v.options)),
               dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(comparable(c.compare, dir.file(output)), expected);
    size_t batches = entries_in(dir.file(checkpoints + "/" + c.run[0] + "/commits"));
    if (v.capped) {
      EXPECT_GE(batches, 2u) << "the cap should make several batches";
    } else {
      EXPECT_EQ(batches, 1u);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Examples, MicroBatchTopologyTest,
    ::testing::Values(TopologyCase{"windowed_count_tumbling",
                                   {"windowed-count", "--set", "input=in.csv", "--set",
                                    "window=tumbling:1s", "--set", "out-of-orderness=40ms"},
                                   Compare::kLines,
                                   "700"},
                      TopologyCase{"windowed_count_sliding",
                                   {"windowed-count", "--set", "input=in.csv", "--set",
                                    "window=sliding:2s:500ms", "--set", "out-of-orderness=40ms"},
                                   Compare::kLines,
                                   "700"},
                      TopologyCase{"windowed_count_session",
                                   {"windowed-count", "--set", "input=in.csv", "--set",
                                    "window=session:20ms", "--set", "out-of-orderness=40ms"},
                                   Compare::kLines,
                                   "700"},
                      TopologyCase{"wordcount_final",
                                   {"wordcount", "--set", "input=in.txt", "--set", "mode=final"},
                                   Compare::kLines,
                                   "300"},
                      TopologyCase{"wordcount_updates",
                                   {"wordcount", "--set", "input=in.txt", "--set", "mode=updates"},
                                   Compare::kLines,
                                   "300"},
                      TopologyCase{"nexmark_gen",
                                   {"nexmark-gen", "--set", "events=4000", "--set", "rate=1000"},
                                   Compare::kLines,
                                   "500"},
                      // Each key's updates come from one split only when the key counts
                      // are multiples of the split count (2 and 3), so that the last
                      // value of a key, hence its checksum, does not depend on how splits
                      // interleave, in either mode.
                      TopologyCase{"state_fill",
                                   {"state-fill", "--set", "events=3000", "--set", "keys=600",
                                    "--set", "hot-keys=120", "--set", "value-bytes=64"},
                                   Compare::kLines,
                                   "500"},
                      TopologyCase{"page_views",
                                   {"page-views", "--set", "duration=500ms", "--set", "rate=20000"},
                                   Compare::kPageAndDwell,
                                   "2000",
                                   false},
                      TopologyCase{"demo",
                                   {"demo", "--set", "duration=500ms", "--set", "rate=20000"},
                                   Compare::kPageTotals,
                                   "2000",
                                   false}),
    [](const auto& info) { return info.param.name; });

// ---------------------------------------------------------------------------
// How many batches the triggers take on a file.

// Lines in each of the `count` splits of a file holding `content`, by the
// file source's rule (connectors/file_split.h): split k starts at the first
// line start at or after size * k / count.
std::vector<uint64_t> lines_per_split(const std::string& content, int count) {
  std::vector<uint64_t> line_starts;
  for (size_t i = 0; i < content.size(); ++i) {
    if (i == 0 || content[i - 1] == '\n') line_starts.push_back(i);
  }
  auto first_line_at_or_after = [&](uint64_t offset) {
    return static_cast<uint64_t>(std::lower_bound(line_starts.begin(), line_starts.end(), offset) -
                                 line_starts.begin());
  };
  std::vector<uint64_t> lines;
  const uint64_t size = content.size();
  for (int k = 0; k < count; ++k) {
    lines.push_back(first_line_at_or_after(size * static_cast<uint64_t>(k + 1) / count) -
                    first_line_at_or_after(size * static_cast<uint64_t>(k) / count));
  }
  return lines;
}

struct TriggerRun {
  ProcessResult result;
  size_t commits = 0;
  size_t progress_lines = 0;
};

TriggerRun run_windowed_count(const TempDir& dir, const std::string& name, const Lines& options) {
  TriggerRun run;
  run.result = sluice(with({"run", "windowed-count", "--set", "input=in.csv", "--set",
                            "output=out-" + name, "--set", "out-of-orderness=40ms", "--mode",
                            "microbatch", "--checkpoint-dir", "ck-" + name},
                           options),
                      dir.path());
  const std::string job = dir.file("ck-" + name + "/windowed-count");
  run.commits = entries_in(job + "/commits");
  std::string progress = testing::read_file(job + "/progress/batches.jsonl");
  run.progress_lines = static_cast<size_t>(std::count(progress.begin(), progress.end(), '\n'));
  return run;
}

TEST(MicroBatchTriggers, AvailableNowTakesOneBatchPerCapOfTheLongestSplit) {
  TempDir dir;
  const std::string input = windowed_count_input(5000);
  write_file(dir.file("in.csv"), input);
  for (auto [parallelism, cap] : {std::pair{2, 600}, std::pair{3, 450}}) {
    SCOPED_TRACE(fmt::format("parallelism {}, {} lines per batch", parallelism, cap));
    std::vector<uint64_t> lines = lines_per_split(input, parallelism);
    uint64_t longest = *std::max_element(lines.begin(), lines.end());
    size_t expected = static_cast<size_t>((longest + cap - 1) / cap);
    ASSERT_GE(expected, 4u);
    TriggerRun run =
        run_windowed_count(dir, std::to_string(parallelism),
                           {"--trigger", "available-now", "--max-records-per-batch",
                            std::to_string(cap), "--parallelism", std::to_string(parallelism)});
    ASSERT_EQ(run.result.exit_code, 0) << run.result.err;
    // One more at most: the batch that ends event time after the last lines.
    EXPECT_GE(run.commits, expected);
    EXPECT_LE(run.commits, expected + 1);
    EXPECT_EQ(run.progress_lines, run.commits);
  }
}

TEST(MicroBatchTriggers, OnceTakesOneBatchOfEverything) {
  TempDir dir;
  write_file(dir.file("in.csv"), windowed_count_input(5000));
  TriggerRun run = run_windowed_count(dir, "once", {"--trigger", "once", "--parallelism", "3"});
  ASSERT_EQ(run.result.exit_code, 0) << run.result.err;
  EXPECT_EQ(run.commits, 1u);
  EXPECT_EQ(run.progress_lines, 1u);
  EXPECT_NE(run.result.err.find("5000 records in"), std::string::npos) << run.result.err;
}

// On an empty file, continuous mode commits nothing and exits 0; so must
// the triggers that end by themselves. No restarts: a failed attempt must
// not hide behind a successful retry.
TEST(MicroBatchTriggers, EndOnAnEmptyFileLikeContinuousMode) {
  TempDir dir;
  write_file(dir.file("in.csv"), "");
  ProcessResult continuous =
      sluice({"run", "windowed-count", "--set", "input=in.csv", "--set", "output=out"}, dir.path());
  ASSERT_EQ(continuous.exit_code, 0) << continuous.err;
  for (std::string trigger : {"once", "available-now"}) {
    SCOPED_TRACE(trigger);
    TriggerRun run = run_windowed_count(dir, "empty-" + trigger,
                                        {"--trigger", trigger, "--restart-strategy", "none"});
    EXPECT_EQ(run.result.exit_code, 0) << run.result.err;
    EXPECT_TRUE(committed_lines(dir.file("out-empty-" + trigger)).empty());
  }
}

}  // namespace
}  // namespace sluice
