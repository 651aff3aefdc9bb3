// wordcount: counts words in text lines. Words are runs of letters, digits
// and apostrophes, lowercased. Writes `word,count` lines: the final count of
// every word when the input ends (mode=final), or the new count after every
// occurrence (mode=updates).
#include <cctype>

#include "connectors/file_sink.h"
#include "connectors/file_source.h"
#include "runtime/cli/registry.h"

namespace sluice::topologies {
namespace {

struct WordCount {
  std::string word;
  int64_t count = 0;
  SLUICE_FIELDS(word, count)
};

void format_word_count(const WordCount& w, std::string& out) {
  out += w.word;
  out += ',';
  out += std::to_string(w.count);
}

bool is_word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '\'';
}

void split_words(std::string&& line, Emitter<std::string>& out) {
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && !is_word_char(line[i])) ++i;
    size_t start = i;
    while (i < line.size() && is_word_char(line[i])) {
      line[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(line[i])));
      ++i;
    }
    if (i > start) out.emit(line.substr(start, i - start));
  }
}

// Counts per word and emits once, when the input ends (watermark +inf).
struct FinalCount {
  ValueState<int64_t> count;
  void open(KeyedStateBackend& state) { count = state.value_state<int64_t>("count"); }
  void process(const std::string&, KeyedContext<std::string, WordCount>& ctx) {
    count.modify([] { return int64_t{0}; }, [](int64_t& c) { ++c; });
    ctx.register_event_timer(kMaxTimestamp);
  }
  void on_timer(Timestamp, TimeDomain, KeyedContext<std::string, WordCount>& ctx) {
    ctx.emit(WordCount{ctx.key(), count.value().value_or(0)});
    count.clear();
  }
};

// Emits the word's new count after every occurrence.
struct RunningCount {
  ValueState<int64_t> count;
  void open(KeyedStateBackend& state) { count = state.value_state<int64_t>("count"); }
  void process(const std::string&, KeyedContext<std::string, WordCount>& ctx) {
    int64_t n = count.value().value_or(0) + 1;
    count.update(n);
    ctx.emit(WordCount{ctx.key(), n});
  }
};

void build(Topology& topology, const Params& params) {
  std::string mode = params.get("mode");
  if (mode != "final" && mode != "updates") {
    throw UsageError("parameter 'mode': '" + mode + "' is not final or updates");
  }
  FileSourceOptions source_options;
  source_options.path = params.get("input");
  source_options.rate = params.has("rate") ? params.get_double("rate") : 0;
  auto parse = [](std::string_view line, const LineLocation&) {
    return std::optional<std::string>(line);
  };
  auto words = topology
                   .source<std::string>("lines",
                                        std::make_shared<FileSource<std::string, decltype(parse)>>(
                                            source_options, parse))
                   .flat_map<std::string>("split", split_words);
  auto by_word = words.key_by([](const std::string& w) { return w; });
  FileSinkOptions sink_options;
  sink_options.directory = params.get("output");
  auto sink =
      std::make_shared<FileSink<WordCount, decltype(&format_word_count)>>(sink_options,
                                                                          &format_word_count);
  if (mode == "final") {
    by_word.process<WordCount>("count", FinalCount{}).sink("output", sink);
    return;
  }
  by_word.process<WordCount>("count", RunningCount{}).sink("output", sink);
}

SLUICE_TOPOLOGY(TopologySpec{
    "wordcount",
    "counts the words of a text file",
    {
        {"input", "input text file", "", true},
        {"output", "output directory for part files of word,count lines", "", true},
        {"mode", "final (one line per word at the end) or updates (a line per occurrence)",
         "final"},
        {"rate", "throttle: lines per second (over all subtasks)", ""},
    },
    build});

}  // namespace
}  // namespace sluice::topologies
