// Nexmark: the generator's contract (determinism at any parallelism, the
// 1/3/46 mix, existing ids), the dump format's round trip, and every query
// run by the sluice binary on a dump, compared with a reference computed
// here with plain loops and maps over the same events.
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "connectors/nexmark/generator.h"
#include "connectors/nexmark/json.h"
#include "tests/process_runner.h"

namespace sluice::nexmark {
namespace {

using sluice::testing::committed_lines;
using sluice::testing::ProcessResult;
using sluice::testing::read_file;
using sluice::testing::TempDir;
using sluice::testing::write_file;

constexpr uint64_t kEvents = 30000;
constexpr int64_t kRate = 1000;  // 30 s of event time

ProcessResult sluice_run(const std::vector<std::string>& args, const std::string& dir) {
  return sluice::testing::run_process(SLUICE_BINARY, args, dir);
}

std::vector<Event> generate(uint64_t count) {
  GeneratorConfig config;
  config.rate = kRate;
  config.seed = 5;
  std::vector<Event> events;
  for (uint64_t n = 0; n < count; ++n) {
    SplitRandom rng(config.seed, n);
    events.push_back(generate_event(config, n, rng));
  }
  return events;
}

TEST(NexmarkGenerator, MixIdsAndTimes) {
  std::vector<Event> events = generate(5000);
  int persons = 0, auctions = 0, bids = 0;
  std::set<int64_t> person_ids, auction_ids;
  for (uint64_t n = 0; n < events.size(); ++n) {
    const Event& e = events[n];
    EXPECT_EQ(e.date_time(), 1767225600000 + static_cast<int64_t>(n));  // 1000/s
    if (const Person* p = e.person()) {
      ++persons;
      EXPECT_EQ(p->id, 1000 + static_cast<int64_t>(person_ids.size()));
      person_ids.insert(p->id);
    } else if (const Auction* a = e.auction()) {
      ++auctions;
      EXPECT_EQ(a->id, 1000 + static_cast<int64_t>(auction_ids.size()));
      auction_ids.insert(a->id);
      EXPECT_TRUE(person_ids.count(a->seller)) << a->seller;
      EXPECT_GE(a->category, 10);
      EXPECT_LE(a->category, 14);
      EXPECT_GT(a->expires, a->date_time);
    } else {
      ++bids;
      EXPECT_TRUE(auction_ids.count(e.bid()->auction)) << e.bid()->auction;
      EXPECT_TRUE(person_ids.count(e.bid()->bidder)) << e.bid()->bidder;
    }
  }
  EXPECT_EQ(persons, 100);
  EXPECT_EQ(auctions, 300);
  EXPECT_EQ(bids, 4600);
}

TEST(NexmarkGenerator, EventsAverageTheirSizes) {
  std::map<std::string, std::pair<size_t, size_t>> sizes;  // type -> (bytes, count)
  for (const Event& e : generate(50000)) {
    std::string type = e.person() ? "person" : e.auction() ? "auction" : "bid";
    sizes[type].first += event_size(e);
    ++sizes[type].second;
  }
  auto average = [&](const char* t) {
    return static_cast<double>(sizes[t].first) / static_cast<double>(sizes[t].second);
  };
  EXPECT_NEAR(average("person"), 200, 10);
  EXPECT_NEAR(average("auction"), 500, 15);
  EXPECT_NEAR(average("bid"), 100, 5);
}

TEST(NexmarkDump, JsonRoundTrip) {
  LineLocation where{"dump", 1};
  for (const Event& e : generate(200)) {
    std::string line;
    append_event_json(e, line);
    std::optional<Event> back = parse_event_json(line, where);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->body, e.body) << line;
  }
}

TEST(NexmarkDump, MalformedLinesAreInputErrors) {
  LineLocation where{"dump.json", 7};
  for (std::string bad : {"{", "{\"type\":\"bid\"}", "{\"type\":\"ghost\"}", "[1,2]",
                          "{\"type\":\"bid\",\"auction\":\"x\"}", "{\"type\":1}"}) {
    try {
      parse_event_json(bad, where);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("dump.json:7: ", 0), 0u) << e.what();
    }
  }
}

TEST(NexmarkGenerator, SameEventsAtParallelismOneAndThree) {
  TempDir dir;
  for (std::string p : {"1", "3"}) {
    ProcessResult r = sluice_run({"run", "nexmark-gen", "--set", "events=20000", "--set",
                                  "rate=1000", "--set", "output=dump" + p, "--parallelism", p},
                                 dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::vector<std::string> one = committed_lines(dir.file("dump1"));
  EXPECT_EQ(one.size(), 20000u);
  EXPECT_EQ(one, committed_lines(dir.file("dump3")));
}

// ---------------------------------------------------------------------------
// References: plain loops and maps over the events.

using Lines = std::vector<std::string>;

Lines sorted(Lines lines) {
  std::sort(lines.begin(), lines.end());
  return lines;
}

Lines reference_q0_q1(const std::vector<Event>& events, bool euros) {
  Lines out;
  for (const Event& e : events) {
    if (const Bid* b = e.bid()) {
      out.push_back(fmt::format("{},{},{},{}", b->auction, b->bidder,
                                euros ? b->price * 908 / 1000 : b->price, b->date_time));
    }
  }
  return sorted(out);
}

Lines reference_q2(const std::vector<Event>& events) {
  Lines out;
  for (const Event& e : events) {
    const Bid* b = e.bid();
    if (b && b->auction % 123 == 0) out.push_back(fmt::format("{},{}", b->auction, b->price));
  }
  return sorted(out);
}

Lines reference_q3(const std::vector<Event>& events) {
  std::map<int64_t, const Person*> sellers;
  for (const Event& e : events) {
    const Person* p = e.person();
    if (p && (p->state == "OR" || p->state == "ID" || p->state == "CA")) sellers[p->id] = p;
  }
  Lines out;
  for (const Event& e : events) {
    const Auction* a = e.auction();
    if (!a || a->category != 10 || !sellers.count(a->seller)) continue;
    const Person* p = sellers[a->seller];
    out.push_back(fmt::format("{},{},{},{}", p->name, p->city, p->state, a->id));
  }
  return sorted(out);
}

std::map<int64_t, int64_t> reference_q4_final(const std::vector<Event>& events) {
  std::map<int64_t, std::pair<int64_t, int64_t>> sum_count;
  for (const Event& ea : events) {
    const Auction* a = ea.auction();
    if (!a) continue;
    int64_t best = -1;
    for (const Event& eb : events) {
      const Bid* b = eb.bid();
      if (b && b->auction == a->id && b->date_time >= a->date_time && b->date_time <= a->expires) {
        best = std::max(best, b->price);
      }
    }
    if (best < 0) continue;
    sum_count[a->category].first += best;
    ++sum_count[a->category].second;
  }
  std::map<int64_t, int64_t> averages;
  for (const auto& [category, sc] : sum_count) averages[category] = sc.first / sc.second;
  return averages;
}

int64_t floor_to(int64_t t, int64_t size) {
  return t - ((t % size) + size) % size;
}

Lines reference_q5(const std::vector<Event>& events) {
  std::map<int64_t, std::map<int64_t, int64_t>> counts;  // window start -> auction -> count
  for (const Event& e : events) {
    const Bid* b = e.bid();
    if (!b) continue;
    for (int64_t s = floor_to(b->date_time, 2000); s > b->date_time - 10000; s -= 2000) {
      ++counts[s][b->auction];
    }
  }
  Lines out;
  for (const auto& [start, per_auction] : counts) {
    int64_t top = 0;
    for (const auto& [a, c] : per_auction) top = std::max(top, c);
    for (const auto& [a, c] : per_auction) {
      if (c == top) out.push_back(fmt::format("{},{},{},{}", start, start + 10000, a, c));
    }
  }
  return sorted(out);
}

Lines reference_q7(const std::vector<Event>& events) {
  std::map<int64_t, std::vector<const Bid*>> windows;
  for (const Event& e : events) {
    if (const Bid* b = e.bid()) windows[floor_to(b->date_time, 10000)].push_back(b);
  }
  Lines out;
  for (const auto& [start, bids] : windows) {
    int64_t top = 0;
    for (const Bid* b : bids) top = std::max(top, b->price);
    for (const Bid* b : bids) {
      if (b->price == top) {
        out.push_back(
            fmt::format("{},{},{},{},{}", start, start + 10000, b->auction, b->bidder, b->price));
      }
    }
  }
  return sorted(out);
}

Lines reference_q8(const std::vector<Event>& events) {
  std::map<std::pair<int64_t, int64_t>, std::string> registered;  // (window, id) -> name
  std::set<std::pair<int64_t, int64_t>> sold;                     // (window, seller)
  for (const Event& e : events) {
    if (const Person* p = e.person()) registered[{floor_to(p->date_time, 10000), p->id}] = p->name;
    if (const Auction* a = e.auction()) sold.insert({floor_to(a->date_time, 10000), a->seller});
  }
  Lines out;
  for (const auto& [key, name] : registered) {
    if (sold.count(key)) {
      out.push_back(fmt::format("{},{},{},{}", key.first, key.first + 10000, key.second, name));
    }
  }
  return sorted(out);
}

Lines reference_q11(const std::vector<Event>& events) {
  std::map<int64_t, std::vector<int64_t>> times;
  for (const Event& e : events) {
    if (const Bid* b = e.bid()) times[b->bidder].push_back(b->date_time);
  }
  Lines out;
  for (auto& [bidder, ts] : times) {
    std::sort(ts.begin(), ts.end());
    size_t i = 0;
    while (i < ts.size()) {
      int64_t start = ts[i], last = ts[i], count = 0;
      while (i < ts.size() && ts[i] <= last + 10000) last = ts[i++], ++count;
      out.push_back(fmt::format("{},{},{},{}", start, last + 10000, bidder, count));
    }
  }
  return sorted(out);
}

// ---------------------------------------------------------------------------
// Each query through the binary, on a dump of the same events, in both
// modes: continuous, and micro-batch with batches capped so that each of the
// two splits of the dump (about 15000 lines each) takes six or seven.

enum class Mode { kContinuous, kMicroBatch };

constexpr const char* kLinesPerBatch = "2500";

struct QueryCase {
  std::string query;
  Mode mode;
};

void PrintTo(const QueryCase& c, std::ostream* os) {
  *os << c.query << (c.mode == Mode::kContinuous ? " continuous" : " microbatch");
}

std::string case_name(const ::testing::TestParamInfo<QueryCase>& info) {
  return info.param.query + (info.param.mode == Mode::kContinuous ? "_continuous" : "_microbatch");
}

// The part files of `dir` in the order their subtasks wrote them: by
// subtask, then by part number ("part-S-N", or "part-S-R-N" with
// checkpoints).
std::vector<std::string> part_files_in_order(const std::string& dir) {
  std::vector<std::pair<std::pair<int, uint64_t>, std::string>> parts;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("part-", 0) != 0) continue;
    int subtask = std::stoi(name.substr(5));
    uint64_t number = std::stoull(name.substr(name.rfind('-') + 1));
    parts.push_back({{subtask, number}, entry.path().string()});
  }
  std::sort(parts.begin(), parts.end());
  std::vector<std::string> paths;
  for (const auto& part : parts) paths.push_back(part.second);
  return paths;
}

// The integer after the first `"key":` of a JSON line, or nullopt.
std::optional<int64_t> json_int(const std::string& line, const std::string& key) {
  size_t at = line.find("\"" + key + "\":");
  if (at == std::string::npos) return std::nullopt;
  return std::stoll(line.substr(at + key.size() + 3));
}

class NexmarkQueryTest : public ::testing::TestWithParam<QueryCase> {
 protected:
  static void SetUpTestSuite() {
    events_ = new std::vector<Event>(generate(kEvents));
    dir_ = new TempDir();
    std::string dump;
    for (const Event& e : *events_) {
      append_event_json(e, dump);
      dump.push_back('\n');
    }
    write_file(dir_->file("events.json"), dump);
  }
  static void TearDownTestSuite() {
    delete events_;
    delete dir_;
  }
  // Runs `query` in `mode` at parallelism 2; returns its output directory
  // (in micro-batch mode, its checkpoints go to ck-QUERY).
  std::string run_query(const std::string& query, Mode mode) {
    std::string output = "out-" + query + (mode == Mode::kMicroBatch ? "-microbatch" : "");
    std::vector<std::string> args = {"run",           "nexmark",
                                     "--set",         "query=" + query,
                                     "--set",         "input=events.json",
                                     "--set",         "output=" + output,
                                     "--parallelism", "2"};
    if (mode == Mode::kMicroBatch) {
      args.insert(args.end(), {"--mode", "microbatch", "--checkpoint-dir", "ck-" + query,
                               "--max-records-per-batch", kLinesPerBatch});
    }
    ProcessResult r = sluice_run(args, dir_->path());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return dir_->file(output);
  }
  // The progress file of `query`'s micro-batch run: one JSON line per
  // committed batch (commits/ holds one entry each), batch ids increasing,
  // and the rows of all batches add up to the dump's events, each read once.
  void expect_progress_of_every_event(const std::string& query) {
    const std::string job = dir_->file("ck-" + query + "/nexmark");
    size_t commits = 0;
    for ([[maybe_unused]] const auto& entry :
         std::filesystem::directory_iterator(job + "/commits")) {
      ++commits;
    }
    std::istringstream in(read_file(job + "/progress/batches.jsonl"));
    std::vector<int64_t> batches;
    int64_t rows = 0;
    for (std::string line; std::getline(in, line);) {
      std::optional<int64_t> batch = json_int(line, "batch");
      std::optional<int64_t> input_rows = json_int(line, "input_rows");  // the batch's total
      ASSERT_TRUE(batch && input_rows) << line;
      if (!batches.empty()) {
        EXPECT_GT(*batch, batches.back()) << line;
      }
      batches.push_back(*batch);
      rows += *input_rows;
    }
    // At least ceil(15000 / 2500) batches.
    EXPECT_GE(batches.size(), 6u);
    EXPECT_EQ(batches.size(), commits);
    EXPECT_EQ(rows, static_cast<int64_t>(kEvents));
  }
  static std::vector<Event>* events_;
  static TempDir* dir_;
};

std::vector<Event>* NexmarkQueryTest::events_ = nullptr;
TempDir* NexmarkQueryTest::dir_ = nullptr;

TEST_P(NexmarkQueryTest, MatchesReference) {
  const std::string& q = GetParam().query;
  const std::vector<Event>& events = *events_;
  Lines expected;
  if (q == "q0") expected = reference_q0_q1(events, false);
  if (q == "q1") expected = reference_q0_q1(events, true);
  if (q == "q2") expected = reference_q2(events);
  if (q == "q3") expected = reference_q3(events);
  if (q == "q5") expected = reference_q5(events);
  if (q == "q7") expected = reference_q7(events);
  if (q == "q8") expected = reference_q8(events);
  if (q == "q11") expected = reference_q11(events);
  ASSERT_FALSE(expected.empty()) << "the reference for " << q << " found nothing to check";
  EXPECT_EQ(committed_lines(run_query(q, GetParam().mode)), expected);
  if (GetParam().mode == Mode::kMicroBatch) expect_progress_of_every_event(q);
}

std::vector<QueryCase> every_query_in_both_modes() {
  std::vector<QueryCase> cases;
  for (const char* q : {"q0", "q1", "q2", "q3", "q5", "q7", "q8", "q11"}) {
    for (Mode mode : {Mode::kContinuous, Mode::kMicroBatch}) cases.push_back({q, mode});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Queries, NexmarkQueryTest,
                         ::testing::ValuesIn(every_query_in_both_modes()), case_name);

// q4 emits a line whenever a category's average changes; the last line of
// each category is its final average. A category's lines come from one
// subtask, in order, so its last line is the last in that subtask's part
// files (in micro-batch mode, one or more per batch).
class NexmarkQ4Test : public NexmarkQueryTest {};

TEST_P(NexmarkQ4Test, FinalAveragesMatchReference) {
  std::map<int64_t, int64_t> expected = reference_q4_final(*events_);
  ASSERT_EQ(expected.size(), 5u);
  std::string output = run_query("q4", GetParam().mode);
  std::map<int64_t, int64_t> last;
  std::map<int64_t, int64_t> previous;
  for (const std::string& part : part_files_in_order(output)) {
    std::istringstream in(read_file(part));
    for (std::string line; std::getline(in, line);) {
      int64_t category = std::stoll(line.substr(0, line.find(',')));
      int64_t average = std::stoll(line.substr(line.find(',') + 1));
      if (previous.count(category)) {
        EXPECT_NE(previous[category], average) << "a line without a change: " << line;
      }
      previous[category] = average;
      last[category] = average;
    }
  }
  EXPECT_EQ(last, expected);
}

INSTANTIATE_TEST_SUITE_P(Modes, NexmarkQ4Test,
                         ::testing::Values(QueryCase{"q4", Mode::kContinuous},
                                           QueryCase{"q4", Mode::kMicroBatch}),
                         case_name);

}  // namespace
}  // namespace sluice::nexmark
