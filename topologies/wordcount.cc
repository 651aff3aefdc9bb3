// wordcount: counts words in text lines. Words are runs of letters, digits
// and apostrophes, lowercased. Writes `word,count` lines: the final count of
// every word when the input ends (mode=final), or the new count after every
// occurrence (mode=updates).
#include <cctype>

#include "connectors/file_sink.h"
#include "connectors/file_source.h"
#include "runtime/job/registry.h"
#include "topologies/kafka_endpoints.h"

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

// Text lines from a file, or the values of a Kafka topic (kafka:TOPIC).
Stream<std::string> read_lines(Topology& topology, const Params& params) {
  double rate = params.has("rate") ? params.get_double("rate") : 0;
  std::string input = params.get("input");
  if (auto topic = kafka_topic("input", input)) {
    kafka::KafkaSourceOptions options = kafka_source_options(params, *topic, "lines");
    options.rate = rate;
    auto value = [](const kafka::KafkaRecord& record) {
      return std::optional<std::string>(record.value);
    };
    return topology.source<std::string>(
        "lines",
        std::make_shared<kafka::KafkaSource<std::string, decltype(value)>>(options, value));
  }
  FileSourceOptions options;
  options.path = input;
  options.rate = rate;
  auto line = [](std::string_view text, const LineLocation&) {
    return std::optional<std::string>(text);
  };
  return topology.source<std::string>(
      "lines", std::make_shared<FileSource<std::string, decltype(line)>>(options, line));
}

// Part files of word,count lines, or messages keyed by the word.
std::shared_ptr<const Sink<WordCount>> counts_output(const Params& params) {
  std::string output = params.get("output");
  if (auto topic = kafka_topic("output", output)) {
    auto serialize = [](const WordCount& w, kafka::KafkaOutMessage& message) {
      message.set_key(w.word);
      format_word_count(w, message.value_buffer());
    };
    return kafka::make_kafka_sink<WordCount>(kafka_sink_options(params, *topic, "wordcount"),
                                             serialize);
  }
  FileSinkOptions options;
  options.directory = output;
  return std::make_shared<FileSink<WordCount, decltype(&format_word_count)>>(options,
                                                                             &format_word_count);
}

void build(Topology& topology, const Params& params) {
  std::string mode = params.get("mode");
  if (mode != "final" && mode != "updates") {
    throw UsageError("parameter 'mode': '" + mode + "' is not final or updates");
  }
  auto by_word = read_lines(topology, params)
                     .flat_map<std::string>("split", split_words)
                     .key_by([](const std::string& w) { return w; });
  auto sink = counts_output(params);
  if (mode == "final") {
    by_word.process<WordCount>("count", FinalCount{}).sink("output", sink);
    return;
  }
  by_word.process<WordCount>("count", RunningCount{}).sink("output", sink);
}

SLUICE_TOPOLOGY(TopologySpec{
    "wordcount", "counts the words of text lines",
    with_kafka_params({
        {"input", "input text file, or kafka:TOPIC (message values)", "", true},
        {"output",
         "word,count lines: part files in a directory, or kafka:TOPIC (keyed by the word)", "",
         true},
        {"mode", "final (one line per word at the end) or updates (a line per occurrence)",
         "final"},
        {"rate", "throttle: lines per second (over all subtasks)", ""},
    }),
    build});

}  // namespace
}  // namespace sluice::topologies
