// `sluice dev-kafka`: hosts librdkafka's mock cluster (connectors/kafka/
// dev_broker.h) as a local Kafka broker for development and tests, until
// SIGINT or SIGTERM. Once the brokers listen and the topics exist it writes
// the bootstrap list to --bootstrap-file (by rename, so a reader never sees
// half of it), prints it as one line on stdout, and logs "dev-kafka ready".
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "connectors/kafka/dev_broker.h"
#include "connectors/staged_file.h"
#include "runtime/cli/command_line.h"
#include "runtime/cli/commands.h"
#include "runtime/core/errors.h"
#include "runtime/core/logging.h"
#include "topologies/stop_signals.h"
#include "topologies/tcp_relay.h"

namespace sluice::topologies {
namespace {

constexpr int kMaxBrokers = 64;
constexpr int kMaxPartitions = 10000;

struct TopicSpec {
  std::string name;
  int partitions = 0;
};

struct DevKafkaOptions {
  int brokers = 1;
  std::vector<TopicSpec> topics;
  std::string bootstrap_file;  // empty: none
  std::string listen;          // empty: 127.0.0.1 only
  bool help = false;
};

// Kafka's rule for topic names: 1 to 249 of [a-zA-Z0-9._-], not "." or "..".
bool is_topic_name(const std::string& name) {
  if (name.empty() || name.size() > 249 || name == "." || name == "..") return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

TopicSpec parse_topic(const std::string& option, const std::string& text) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) {
    throw UsageError(option + ": '" + text + "' is not NAME:PARTITIONS (like events:3)");
  }
  TopicSpec topic{text.substr(0, colon), 0};
  if (!is_topic_name(topic.name)) {
    throw UsageError(option + ": '" + topic.name +
                     "' is not a topic name (1 to 249 of a-z A-Z 0-9 . _ -)");
  }
  topic.partitions = parse_positive_int(option + " " + topic.name, text.substr(colon + 1));
  if (topic.partitions > kMaxPartitions) {
    throw UsageError(
        fmt::format("{} {}: at most {} partitions", option, topic.name, kMaxPartitions));
  }
  return topic;
}

DevKafkaOptions parse_dev_kafka_options(const std::vector<std::string>& args) {
  DevKafkaOptions options;
  CommandLine line(
      "dev-kafka",
      "Hosts librdkafka's mock cluster as a local Kafka broker for development and tests, "
      "until SIGINT or SIGTERM (then exits 0). Once it is ready it prints the bootstrap list "
      "(127.0.0.1:PORT,...; random ports) as one line on stdout. The mock is not Kafka: it "
      "does not filter read_committed, store transactional offsets, fence producers, time out "
      "transactions, answer offsets_for_times or the Admin API, and keeps only ~5 MiB per "
      "partition (see docs/architecture.md).");
  line.count("--brokers", options.brokers, "brokers in the cluster, 1 to 64 (default 1)");
  std::vector<std::string> topics;
  line.repeated("--topic", topics,
                "create a topic, replicated on every broker (repeatable); topics that clients "
                "use without creating them are created by the mock with its own defaults")
      ->type_name("NAME:PARTITIONS");
  line.text("--bootstrap-file", options.bootstrap_file,
            "write the bootstrap list to PATH once ready (by rename); an older PATH is "
            "removed at start, PATH at exit")
      ->type_name("PATH");
  line.text("--listen", options.listen,
            "also accept on ADDRESS (an IP address of this host) at the brokers' ports, for "
            "clients on other hosts; those run `sluice kafka-relay` (the mock listens on "
            "127.0.0.1 only and advertises 127.0.0.1 in its metadata)")
      ->type_name("ADDRESS");
  if (!line.parse(args)) {
    options.help = true;
    return options;
  }
  if (options.brokers > kMaxBrokers) {
    throw UsageError(fmt::format("--brokers: at most {}", kMaxBrokers));
  }
  std::set<std::string> topic_names;
  for (const std::string& text : topics) {
    TopicSpec topic = parse_topic("--topic", text);
    if (!topic_names.insert(topic.name).second) {
      throw UsageError("--topic: '" + topic.name + "' is given twice");
    }
    options.topics.push_back(std::move(topic));
  }
  if (line.app().count("--bootstrap-file") > 0 && options.bootstrap_file.empty()) {
    throw UsageError("--bootstrap-file needs a path");
  }
  if (line.app().count("--listen") > 0 && options.listen.empty()) {
    throw UsageError("--listen needs an IP address");
  }
  return options;
}

// The --bootstrap-file: absent until the broker is ready, then the whole
// list at once, and removed again when the broker stops, so that a script
// that waits for the file never reads a dead broker's ports.
class BootstrapFile {
 public:
  explicit BootstrapFile(std::string path) : path_(std::move(path)) { remove(); }
  BootstrapFile(const BootstrapFile&) = delete;
  BootstrapFile& operator=(const BootstrapFile&) = delete;
  ~BootstrapFile() {
    if (published_) remove();
  }

  void publish(const std::string& bootstraps) {
    std::filesystem::path final_path(path_);
    std::string hidden = (final_path.parent_path() /
                          fmt::format(".{}.{}.tmp", final_path.filename().string(), getpid()))
                             .string();
    StagedFile staged(hidden, "dev-kafka");
    staged.buffer() = bootstraps + "\n";
    try {
      staged.publish(path_);
    } catch (const ExternalError&) {
      ::unlink(hidden.c_str());  // best effort: the publish error is the one to report
      throw;
    }
    published_ = true;
  }

 private:
  // unlink, not std::filesystem::remove: PATH must never name a directory.
  void remove() {
    if (::unlink(path_.c_str()) != 0 && errno != ENOENT) {
      std::string message = "dev-kafka: cannot remove " + path_ + ": " + std::strerror(errno);
      if (published_) {
        log::cli()->warn("{}", message);  // at exit; the broker is already gone
      } else {
        throw ExternalError(message);
      }
    }
  }

  std::string path_;
  bool published_ = false;
};

int run_dev_kafka(const std::vector<std::string>& args) {
  DevKafkaOptions options = parse_dev_kafka_options(args);
  if (options.help) return 0;
  log::cli()->warn("dev-kafka: {}", kafka::DevKafkaBroker::kLimitations);
  // Before the broker starts its threads, which inherit the mask.
  BlockedStopSignals stop_signals;
  std::optional<BootstrapFile> bootstrap_file;
  if (!options.bootstrap_file.empty()) bootstrap_file.emplace(options.bootstrap_file);

  kafka::DevKafkaBroker broker(options.brokers);
  std::string topics;
  for (const TopicSpec& topic : options.topics) {
    broker.create_topic(topic.name, topic.partitions);
    topics += fmt::format("{}{}:{}", topics.empty() ? "" : ", ", topic.name, topic.partitions);
  }
  // Clients on other hosts: ADDRESS:P relays to the broker at 127.0.0.1:P.
  TcpRelays relays;
  if (!options.listen.empty()) {
    for (uint16_t port : bootstrap_ports(broker.bootstraps())) {
      relays.add(options.listen, port, "127.0.0.1", port);
    }
  }
  if (bootstrap_file) bootstrap_file->publish(broker.bootstraps());
  fmt::print("{}\n", broker.bootstraps());
  std::fflush(stdout);
  log::cli()->info("dev-kafka ready: {} broker{} at {}; {}{}", options.brokers,
                   options.brokers == 1 ? "" : "s", broker.bootstraps(),
                   topics.empty()
                       ? "no topics created (the mock creates a topic on first use, 4 partitions)"
                       : fmt::format("topics {} (replication factor {})", topics, options.brokers),
                   bootstrap_file ? "; bootstrap list in " + options.bootstrap_file : "");
  if (!options.listen.empty()) {
    log::cli()->info("dev-kafka: also on {} at the same ports (clients elsewhere: kafka-relay)",
                     options.listen);
  }

  int signal = stop_signals.wait();
  log::cli()->info("dev-kafka: stopping on {}", signal == SIGINT ? "SIGINT" : "SIGTERM");
  return 0;
}

SLUICE_COMMAND(CommandSpec{"dev-kafka", "host a local Kafka broker for development (--help)",
                           run_dev_kafka});

}  // namespace
}  // namespace sluice::topologies
