// End-to-end tests of the sluice binary: windowed-count at parallelism 1 and
// 4 for every window kind against an independent reference computation,
// late data and allowed lateness, wordcount, bad input and bad command lines
// (the micro-batch options' too).
#include <map>
#include <random>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/process_runner.h"

namespace sluice {
namespace {

using testing::committed_lines;
using testing::ProcessResult;
using testing::read_file;
using testing::TempDir;
using testing::write_file;

ProcessResult sluice(const std::vector<std::string>& args, const std::string& workdir = ".") {
  return testing::run_process(SLUICE_BINARY, args, workdir);
}

struct Event {
  int64_t time;
  std::string key;
  int64_t value;
};

// Events in roughly increasing time, each at most `jitter` ms out of order.
std::vector<Event> make_events(int n, int64_t step, int64_t jitter, int keys, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::vector<Event> events;
  for (int i = 0; i < n; ++i) {
    int64_t t = 1767225600000 + i * step + static_cast<int64_t>(rng() % (jitter + 1));
    // Some keys go quiet for a while so that sessions split.
    std::string key = "k" + std::to_string(rng() % keys);
    if ((i / 500) % 3 == 1 && key == "k0") key = "k1";
    events.push_back(Event{t, key, static_cast<int64_t>(rng() % 200) - 50});
  }
  return events;
}

std::string to_csv(const std::vector<Event>& events) {
  std::string out;
  for (const Event& e : events) out += fmt::format("{},{},{}\n", e.time, e.key, e.value);
  return out;
}

// The reference: plain loops and maps over all events, no engine code.
using Totals = std::map<std::tuple<int64_t, int64_t, std::string>, std::pair<int64_t, int64_t>>;

std::vector<std::string> lines_of(const Totals& totals) {
  std::vector<std::string> lines;
  for (const auto& [k, v] : totals) {
    lines.push_back(fmt::format("{},{},{},{},{}", std::get<0>(k), std::get<1>(k), std::get<2>(k),
                                v.first, v.second));
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

int64_t floor_to(int64_t t, int64_t size) {
  int64_t r = t % size;
  return r < 0 ? t - r - size : t - r;
}

std::vector<std::string> reference_sliding(const std::vector<Event>& events, int64_t size,
                                           int64_t slide) {
  Totals totals;
  for (const Event& e : events) {
    for (int64_t start = floor_to(e.time, slide); start > e.time - size; start -= slide) {
      auto& t = totals[{start, start + size, e.key}];
      ++t.first;
      t.second += e.value;
    }
  }
  return lines_of(totals);
}

std::vector<std::string> reference_sessions(const std::vector<Event>& events, int64_t gap) {
  std::map<std::string, std::vector<Event>> by_key;
  for (const Event& e : events) by_key[e.key].push_back(e);
  Totals totals;
  for (auto& [key, list] : by_key) {
    std::sort(list.begin(), list.end(),
              [](const Event& a, const Event& b) { return a.time < b.time; });
    size_t i = 0;
    while (i < list.size()) {
      int64_t start = list[i].time;
      int64_t last = start;
      int64_t count = 0;
      int64_t sum = 0;
      while (i < list.size() && list[i].time <= last + gap) {
        last = std::max(last, list[i].time);
        ++count;
        sum += list[i].value;
        ++i;
      }
      totals[{start, last + gap, key}] = {count, sum};
    }
  }
  return lines_of(totals);
}

struct WindowCase {
  WindowCase(std::string window, int parallelism, std::string state = "memory",
             int write_cache_entries = 0, std::string state_memory = "")
      : window(std::move(window)),
        parallelism(parallelism),
        state(std::move(state)),
        write_cache_entries(write_cache_entries),
        state_memory(std::move(state_memory)) {}
  std::string window;
  int parallelism;
  std::string state;
  int write_cache_entries;        // rocksdb: 0 for the default
  std::string state_memory;       // rocksdb: --state-memory, when set
  std::vector<std::string> more;  // further options
};

// Sources of time-ordered byte ranges, held within 50 ms of each other:
// they pause and resume all the time.
WindowCase aligned(WindowCase c) {
  c.more = {"--watermark-alignment", "50ms"};
  return c;
}

class WindowedCountTest : public ::testing::TestWithParam<WindowCase> {};

TEST_P(WindowedCountTest, MatchesReference) {
  const WindowCase& c = GetParam();
  TempDir dir;
  // Disorder stays within the out-of-orderness, so no record is late and
  // every window's single output line is its complete count.
  std::vector<Event> events = make_events(30000, 3, 40, 13, 42);
  write_file(dir.file("in.csv"), to_csv(events));
  std::vector<std::string> args = {"run",           "windowed-count",
                                   "--set",         "input=in.csv",
                                   "--set",         "output=out",
                                   "--set",         "window=" + c.window,
                                   "--set",         "out-of-orderness=40ms",
                                   "--parallelism", std::to_string(c.parallelism),
                                   "--state",       c.state};
  if (c.write_cache_entries > 0) {
    args.insert(args.end(),
                {"--rocksdb-write-cache-entries", std::to_string(c.write_cache_entries)});
  }
  if (!c.state_memory.empty()) args.insert(args.end(), {"--state-memory", c.state_memory});
  args.insert(args.end(), c.more.begin(), c.more.end());
  ProcessResult r = sluice(args, dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;

  std::vector<std::string> expected;
  if (c.window == "tumbling:1s") expected = reference_sliding(events, 1000, 1000);
  if (c.window == "sliding:2s:500ms") expected = reference_sliding(events, 2000, 500);
  if (c.window == "session:20ms") expected = reference_sessions(events, 20);
  ASSERT_GT(expected.size(), 30u);
  EXPECT_EQ(committed_lines(dir.file("out")), expected);
  EXPECT_NE(r.err.find("30000 records in"), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(
    AllWindows, WindowedCountTest,
    ::testing::Values(WindowCase{"tumbling:1s", 1}, WindowCase{"tumbling:1s", 4},
                      WindowCase{"sliding:2s:500ms", 1}, WindowCase{"sliding:2s:500ms", 4},
                      WindowCase{"session:20ms", 1}, WindowCase{"session:20ms", 4},
                      WindowCase{"tumbling:1s", 4, "rocksdb"},
                      WindowCase{"sliding:2s:500ms", 4, "rocksdb"},
                      WindowCase{"session:20ms", 4, "rocksdb"},
                      // A write cache of two entries writes back on almost every record.
                      WindowCase{"sliding:2s:500ms", 2, "rocksdb", 2},
                      WindowCase{"session:20ms", 2, "rocksdb", 2},
                      // Every subtask's instance in one shared block cache.
                      WindowCase{"tumbling:1s", 4, "rocksdb", 0, "8m"},
                      aligned(WindowCase{"tumbling:1s", 4}),
                      aligned(WindowCase{"session:20ms", 3, "rocksdb"})),
    [](const auto& info) {
      std::string name = info.param.window.substr(0, info.param.window.find(':'));
      std::string cache = info.param.write_cache_entries > 0
                              ? "_cache" + std::to_string(info.param.write_cache_entries)
                              : "";
      std::string shared = info.param.state_memory.empty() ? "" : "_shared";
      std::string more = info.param.more.empty() ? "" : "_aligned";
      return name + "_p" + std::to_string(info.param.parallelism) + "_" + info.param.state + cache +
             shared + more;
    });

// Sources emit a watermark after every batch (at most 1024 records), as
// periodic watermarks would; blocks of 1500 filler lines (key z) put
// watermarks between the records this test is about.
class WindowedCountLateness : public ::testing::TestWithParam<std::string> {};

TEST_P(WindowedCountLateness, RefiresAndWritesLateLinesUnchanged) {
  TempDir dir;
  auto filler = [](int64_t time) {
    std::string lines;
    for (int i = 0; i < 1500; ++i) lines += std::to_string(time) + ",z,0\n";
    return lines;
  };
  // Tumbling 10 ms windows, no out-of-orderness, 15 ms allowed lateness.
  write_file(dir.file("in.csv"),
             "1,a,1\n5,a,2\n" + filler(12) +  // watermark 11: [0,10) fires with 2 records
                 "3,a,8\n" +                  // late, within lateness: fires again with 3
                 filler(30) +                 // watermark 29: [0,10) cleaned up (9 + 15 <= 29)
                 "7,a,16\n"                   // too late: to the late file, unchanged
                 "25,a,32\n");                // [20,30) is due already: fires at once
  ProcessResult r = sluice({"run", "windowed-count", "--set", "input=in.csv", "--set", "output=out",
                            "--set", "window=tumbling:10ms", "--set", "allowed-lateness=15ms",
                            "--set", "late-output=late.csv", "--state", GetParam()},
                           dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(committed_lines(dir.file("out")),
            (std::vector<std::string>{"0,10,a,2,3", "0,10,a,3,11", "10,20,z,1500,0", "20,30,a,1,32",
                                      "30,40,z,1500,0"}));
  EXPECT_EQ(read_file(dir.file("late.csv")), "7,a,16\n");
}

// With RocksDB state the window operator learns whether a window has
// contents from its cleanup timer instead of a lookup; lateness is where
// the two could differ.
INSTANTIATE_TEST_SUITE_P(Backends, WindowedCountLateness, ::testing::Values("memory", "rocksdb"));

TEST(WindowedCount, MalformedLineFailsWithItsLineNumber) {
  TempDir dir;
  write_file(dir.file("in.csv"), "1,a,1\n2,a,2\n3,a,x\n4,a,4\n");
  ProcessResult r =
      sluice({"run", "windowed-count", "--set", "input=in.csv", "--set", "output=out"}, dir.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("in.csv:3: value is not an integer in '3,a,x'"), std::string::npos) << r.err;
  EXPECT_TRUE(committed_lines(dir.file("out")).empty());
}

TEST(WindowedCount, MalformedLinesAreSkippedAndCountedWhenAsked) {
  TempDir dir;
  write_file(dir.file("in.csv"), "1,a,1\nnonsense\n2,a,2\n3,,3\n4,a,4\n");
  ProcessResult r = sluice({"run", "windowed-count", "--set", "input=in.csv", "--set", "output=out",
                            "--set", "on-error=skip", "--set", "window=tumbling:1s"},
                           dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(committed_lines(dir.file("out")), (std::vector<std::string>{"0,1000,a,3,7"}));
  EXPECT_NE(r.err.find("skipped 2 malformed lines (first at line 2"), std::string::npos) << r.err;
}

TEST(Wordcount, CountsMatchReference) {
  TempDir dir;
  std::string text =
      "The quick brown fox\njumps over the lazy dog.\n\nTHE END, the end!\nfox's den\n";
  write_file(dir.file("in.txt"), text);
  for (std::string p : {"1", "3"}) {
    ProcessResult r = sluice({"run", "wordcount", "--set", "input=in.txt", "--set",
                              "output=out" + p, "--parallelism", p},
                             dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::map<std::string, int> reference;
    std::string word;
    for (char ch : text + " ") {
      if (std::isalnum(static_cast<unsigned char>(ch)) || ch == '\'') {
        word += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      } else if (!word.empty()) {
        ++reference[word];
        word.clear();
      }
    }
    std::vector<std::string> expected;
    for (const auto& [w, n] : reference) expected.push_back(w + "," + std::to_string(n));
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(committed_lines(dir.file("out" + p)), expected);
  }
}

struct BadCommand {
  std::vector<std::string> args;
  std::string message;
};

void PrintTo(const BadCommand& c, std::ostream* os) {
  for (const std::string& a : c.args) *os << a << ' ';
}

void PrintTo(const WindowCase& c, std::ostream* os) {
  *os << c.window << " p" << c.parallelism << " " << c.state;
}

class BadCommandTest : public ::testing::TestWithParam<BadCommand> {};

TEST_P(BadCommandTest, GivesOneLineAndExitCode2) {
  TempDir dir;
  write_file(dir.file("in.csv"), "1,a,1\n");
  ProcessResult r = sluice(GetParam().args, dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(GetParam().message), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

INSTANTIATE_TEST_SUITE_P(
    Cli, BadCommandTest,
    ::testing::Values(
        BadCommand{{"frobnicate"}, "unknown command 'frobnicate'"},
        BadCommand{{"run", "nope"}, "unknown topology 'nope'"},
        BadCommand{{"run"}, "missing TOPOLOGY"},
        BadCommand{{"run", "windowed-count", "--bogus"}, "unknown option '--bogus'"},
        BadCommand{{"run", "windowed-count", "--set", "input=in.csv", "--set", "output=o", "--set",
                    "colour=red"},
                   "unknown parameter 'colour'"},
        BadCommand{{"run", "windowed-count", "--set", "output=o"}, "missing parameter 'input'"},
        BadCommand{{"run", "windowed-count", "--set", "input=in.csv", "--set", "output=o", "--set",
                    "window=hopping:1s"},
                   "parameter 'window': 'hopping:1s' is not a window"},
        BadCommand{{"run", "windowed-count", "--set", "input=in.csv", "--set", "output=o", "--set",
                    "out-of-orderness=soon"},
                   "parameter 'out-of-orderness': 'soon' is not a duration"},
        BadCommand{{"run", "windowed-count", "--parallelism", "0"},
                   "--parallelism: '0' is not a positive integer"},
        BadCommand{{"run", "windowed-count", "--set", "input=in.csv", "--set", "output=o", "--set",
                    "on-error=ignore"},
                   "parameter 'on-error': "},
        BadCommand{{"run", "windowed-count", "--set", "noequals"}, "--set expects KEY=VALUE"},
        BadCommand{{"run", "windowed-count", "--set", "input=in.csv", "--set", "output=o",
                    "--trigger", "1s"},
                   "--trigger needs --mode microbatch"},
        BadCommand{{"run", "windowed-count", "--set", "input=in.csv", "--set", "output=o", "--mode",
                    "microbatch"},
                   "--mode microbatch needs --checkpoint-dir"},
        BadCommand{{"run", "windowed-count", "--set", "input=in.csv", "--set", "output=o", "--mode",
                    "batch"},
                   "--mode: 'batch' is not a mode"},
        BadCommand{{"run", "windowed-count", "--set", "input=in.csv", "--set", "output=o", "--mode",
                    "microbatch", "--checkpoint-dir", "ck", "--trigger", "soon"},
                   "--trigger: 'soon' is not"},
        BadCommand{{"run", "windowed-count", "--set", "input=in.csv", "--set", "output=o", "--mode",
                    "microbatch", "--checkpoint-dir", "ck", "--max-records-per-batch", "0"},
                   "--max-records-per-batch: '0' is not a positive integer"},
        BadCommand{{"run", "windowed-count", "--set", "input=in.csv", "--set", "output=o", "--mode",
                    "microbatch", "--checkpoint-dir", "ck", "--watermark-alignment", "1s"},
                   "--watermark-alignment does not apply to --mode microbatch"},
        BadCommand{{"run", "windowed-count", "--watermark-alignment", "far"},
                   "--watermark-alignment: 'far' is not"},
        BadCommand{{"run", "windowed-count", "--state-memory", "512"},
                   "--state-memory: '512' is not a size (a number and k, m or g, like 512m)"},
        BadCommand{{"run", "windowed-count", "--state-memory", "0g"},
                   "--state-memory: '0g' is not a size"},
        BadCommand{{"run", "windowed-count", "--state-memory", "99999999999g"},
                   "--state-memory: '99999999999g' is too large"}));

TEST(Cli, MissingInputFileIsAClearErrorNotACrash) {
  TempDir dir;
  ProcessResult r = sluice(
      {"run", "windowed-count", "--set", "input=absent.csv", "--set", "output=out"}, dir.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("absent.csv"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("No such file or directory"), std::string::npos) << r.err;
}

TEST(Cli, EveryCommandHasHelp) {
  for (std::vector<std::string> args :
       std::vector<std::vector<std::string>>{{"help"},
                                             {"run", "--help"},
                                             {"topologies", "--help"},
                                             {"jobmanager", "--help"},
                                             {"taskmanager", "-h"},
                                             {"submit", "--help"},
                                             {"list", "--help"},
                                             {"taskmanagers", "--help"},
                                             {"cancel", "--help"},
                                             {"checkpoint", "--help"},
                                             {"dev-kafka", "--help"},
                                             {"kafka-relay", "--help"},
                                             {"bench", "nexmark", "--help"}}) {
    ProcessResult r = sluice(args);
    EXPECT_EQ(r.exit_code, 0) << args[0];
    EXPECT_NE(r.out.find("usage: sluice"), std::string::npos) << r.out;
  }
}

// Every command's options are parsed the same way (runtime/cli/command_line.h):
// "--opt=VALUE" as "--opt VALUE", an option given twice takes its last value,
// and a bad command line is one line and exit 2.
TEST(Cli, EveryCommandRejectsABadCommandLineInOneLine) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"jobmanager", "--port=1", "--bogus"},
           {"taskmanager", "--jobmanager=host"},
           {"submit", "windowed-count", "--jobmanager", "127.0.0.1:1", "--parallelism=0"},
           {"list", "--jobmanager"},
           {"cancel", "--jobmanager=127.0.0.1:1"},
           {"dev-kafka", "--topic=events"},
           {"kafka-relay", "--to", "x"},
           {"bench", "nexmark", "--query", "q0", "--events=many"},
           {"topologies", "extra"},
           {"run", "windowed-count", "--parallelism", "2", "--parallelism=0"}}) {
    ProcessResult r = sluice(args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("sluice: ", 0), 0u) << r.err;
  }
}

TEST(Cli, TopologiesListsTheExamplesWithParameters) {
  ProcessResult r = sluice({"topologies"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* expected :
       {"windowed-count", "wordcount", "demo", "--set allowed-lateness=", "--set late-output="}) {
    EXPECT_NE(r.out.find(expected), std::string::npos) << expected;
  }
}

}  // namespace
}  // namespace sluice
