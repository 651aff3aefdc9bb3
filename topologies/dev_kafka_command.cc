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
#include "runtime/job/registry.h"
#include "runtime/cli/run_options.h"
#include "runtime/core/errors.h"
#include "runtime/core/logging.h"
#include "topologies/stop_signals.h"
#include "topologies/tcp_relay.h"

namespace sluice::topologies {
namespace {

const char* const kUsage =
    "usage: sluice dev-kafka [--brokers N] [--topic NAME:PARTITIONS]... [--bootstrap-file PATH]\n"
    "                        [--listen ADDRESS]\n"
    "\n"
    "Hosts librdkafka's mock cluster as a local Kafka broker for development and\n"
    "tests, until SIGINT or SIGTERM (then exits 0). Once it is ready it prints the\n"
    "bootstrap list (127.0.0.1:PORT,...; random ports) as one line on stdout.\n"
    "The mock is not Kafka: it does not filter read_committed, store transactional\n"
    "offsets, fence producers, time out transactions, answer offsets_for_times or the\n"
    "Admin API, and keeps only ~5 MiB per partition (see docs/architecture.md).\n"
    "\n"
    "options:\n"
    "  --brokers N               brokers in the cluster, 1 to 64 (default 1)\n"
    "  --topic NAME:PARTITIONS   create a topic, replicated on every broker (repeatable);\n"
    "                            topics that clients use without creating them are\n"
    "                            created by the mock with its own defaults\n"
    "  --bootstrap-file PATH     write the bootstrap list to PATH once ready (by rename);\n"
    "                            an older PATH is removed at start, PATH at exit\n"
    "  --listen ADDRESS          also accept on ADDRESS (an IP address of this host) at\n"
    "                            the brokers' ports, for clients on other hosts; those\n"
    "                            run `sluice kafka-relay` (the mock listens on 127.0.0.1\n"
    "                            only and advertises 127.0.0.1 in its metadata)\n"
    "  --help                    this text\n";

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
  std::set<std::string> topic_names;
  ArgCursor cursor(args);
  while (!cursor.done()) {
    std::string arg = cursor.next();
    std::string option = arg.substr(0, arg.find('='));
    if (option == "--help" || option == "-h") {
      options.help = true;
    } else if (option == "--brokers") {
      options.brokers = parse_positive_int(option, cursor.value(option, arg));
      if (options.brokers > kMaxBrokers) {
        throw UsageError(fmt::format("--brokers: at most {}", kMaxBrokers));
      }
    } else if (option == "--topic") {
      TopicSpec topic = parse_topic(option, cursor.value(option, arg));
      if (!topic_names.insert(topic.name).second) {
        throw UsageError("--topic: '" + topic.name + "' is given twice");
      }
      options.topics.push_back(std::move(topic));
    } else if (option == "--bootstrap-file") {
      options.bootstrap_file = cursor.value(option, arg);
      if (options.bootstrap_file.empty()) throw UsageError("--bootstrap-file needs a path");
    } else if (option == "--listen") {
      options.listen = cursor.value(option, arg);
      if (options.listen.empty()) throw UsageError("--listen needs an IP address");
    } else if (arg.rfind("-", 0) == 0) {
      throw UsageError("dev-kafka: unknown option '" + arg + "' (see sluice dev-kafka --help)");
    } else {
      throw UsageError("dev-kafka: unexpected argument '" + arg +
                       "' (see sluice dev-kafka --help)");
    }
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
  if (options.help) {
    fmt::print("{}", kUsage);
    return 0;
  }
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
