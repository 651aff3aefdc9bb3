#include "connectors/kafka/kafka_sink.h"

#include <cstdlib>
#include <random>

#include <fmt/format.h>

#include "connectors/kafka/kafka_sink_state.h"
#include "runtime/core/errors.h"
#include "runtime/core/fault_injection.h"
#include "runtime/core/logging.h"

namespace sluice::kafka {
namespace {

constexpr int kMaxPool = 16;

std::string new_run_token() {
  std::random_device device;
  uint64_t bits = (static_cast<uint64_t>(device()) << 32) ^ device();
  return fmt::format("{:012x}", bits & 0xffffffffffffULL);
}

const char* guarantee_name(KafkaGuarantee guarantee) {
  switch (guarantee) {
    case KafkaGuarantee::kNone:
      return "none";
    case KafkaGuarantee::kAtLeastOnce:
      return "at-least-once";
    case KafkaGuarantee::kExactlyOnce:
      return "exactly-once";
  }
  return "?";
}

// librdkafka's default for transaction.timeout.ms.
constexpr DurationMs kDefaultTransactionTimeoutMs = 60'000;

}  // namespace

KafkaGuarantee parse_kafka_guarantee(const std::string& text) {
  for (KafkaGuarantee g :
       {KafkaGuarantee::kNone, KafkaGuarantee::kAtLeastOnce, KafkaGuarantee::kExactlyOnce}) {
    if (text == guarantee_name(g)) return g;
  }
  throw UsageError(fmt::format(
      "kafka sink: unknown guarantee '{}' (none, at-least-once or exactly-once)", text));
}

std::string transactional_id_of(const std::string& prefix, int subtask, int slot) {
  return fmt::format("{}-{}-{}", prefix, subtask, slot);
}

std::string marker_key_of(const std::string& prefix, int subtask, const std::string& run_token) {
  return fmt::format("{}-{}-{}", prefix, subtask, run_token);
}

std::string marker_topic_of(const KafkaSinkOptions& options) {
  return options.marker_topic.empty() ? options.transactional_id_prefix + ".sluice-commits"
                                      : options.marker_topic;
}

void validate_kafka_sink_options(const KafkaSinkOptions& options) {
  if (options.topic.empty()) throw UsageError("kafka sink: no topic given");
  std::string what = fmt::format("kafka sink '{}'", options.topic);
  if (!options.properties.contains("bootstrap.servers")) {
    throw UsageError(what + ": no bootstrap servers (set kafka.bootstrap.servers)");
  }
  if (options.properties.contains("transactional.id")) {
    throw UsageError(what +
                     ": kafka.transactional.id must not be set; the sink derives its ids "
                     "from transactional_id_prefix");
  }
  if (options.startup_timeout_ms <= 0 || options.operation_timeout_ms <= 0 ||
      options.recovery_timeout_ms <= 0) {
    throw UsageError(what + ": timeouts must be > 0");
  }
  if (options.guarantee != KafkaGuarantee::kExactlyOnce) return;
  if (options.transactional_id_prefix.empty()) {
    throw UsageError(what + ": exactly-once needs a transactional id prefix");
  }
  if (options.transactional_id_pool < 2 || options.transactional_id_pool > kMaxPool) {
    throw UsageError(fmt::format("{}: transactional_id_pool must be in 2..{}, not {}", what,
                                 kMaxPool, options.transactional_id_pool));
  }
  if (options.checkpoint_interval_ms <= 0) {
    throw UsageError(what +
                     ": exactly-once needs the job's checkpoint interval "
                     "(checkpoint_interval_ms)");
  }
  DurationMs timeout = kDefaultTransactionTimeoutMs;
  if (auto it = options.properties.find("transaction.timeout.ms"); it != options.properties.end()) {
    char* end = nullptr;
    timeout = std::strtoll(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end != '\0') {
      throw UsageError(
          fmt::format("{}: kafka.transaction.timeout.ms is not a number: '{}'", what, it->second));
    }
  }
  DurationMs needed = options.checkpoint_interval_ms + kRecoveryMarginMs;
  if (timeout <= needed) {
    throw UsageError(fmt::format(
        "{}: kafka.transaction.timeout.ms is {} but must exceed the checkpoint interval ({} ms) "
        "plus {} ms for recovery: set kafka.transaction.timeout.ms to at least {} (and keep it "
        "within the brokers' transaction.max.timeout.ms, 900000 by default)",
        what, timeout, options.checkpoint_interval_ms, kRecoveryMarginMs, needed + 1));
  }
}

KafkaSinkCore::KafkaSinkCore(KafkaSinkOptions options)
    : options_(std::move(options)), marker_topic_(marker_topic_of(options_)) {}

KafkaSinkCore::~KafkaSinkCore() = default;

void KafkaSinkCore::open(const SinkContext& context) {
  validate_kafka_sink_options(options_);
  subtask_ = context.subtask;
  parallelism_ = context.parallelism;
  what_ = fmt::format("{}: kafka sink '{}'", context.task_name, options_.topic);
  if (options_.guarantee == KafkaGuarantee::kExactlyOnce && !context.checkpointing) {
    throw UsageError(what_ +
                     ": exactly-once needs checkpoints (a checkpoint interval and "
                     "directory)");
  }
  run_token_ = new_run_token();
  if (options_.guarantee != KafkaGuarantee::kExactlyOnce) {
    make_plain_producer().wait_for_brokers(options_.startup_timeout_ms);
    return;
  }
  // Transactional producers are made per slot when first needed, after
  // recover() fenced the old ones; a plain one checks the brokers now.
  SinkProducer probe(options_.properties, options_.topic, "", what_, options_.operation_timeout_ms);
  probe.wait_for_brokers(options_.startup_timeout_ms);
}

SinkProducer& KafkaSinkCore::make_plain_producer() {
  plain_ = std::make_unique<SinkProducer>(options_.properties, options_.topic, "", what_,
                                          options_.operation_timeout_ms);
  return *plain_;
}

SinkProducer& KafkaSinkCore::slot_producer(int slot) {
  if (slots_.empty()) slots_.resize(options_.transactional_id_pool);
  std::unique_ptr<SinkProducer>& producer = slots_[slot];
  if (!producer) {
    producer = std::make_unique<SinkProducer>(
        options_.properties, options_.topic,
        transactional_id_of(options_.transactional_id_prefix, subtask_, slot), what_,
        options_.operation_timeout_ms);
    producer->init_transactions(options_.startup_timeout_ms);
  }
  return *producer;
}

void KafkaSinkCore::begin_epoch() {
  int slot = static_cast<int>(epoch_sequence_ % options_.transactional_id_pool);
  SinkProducer& producer = slot_producer(slot);
  if (producer.in_transaction()) {
    throw ExternalError(fmt::format(
        "{}: all {} transactional ids hold uncommitted transactions (checkpoints are not "
        "completing); restarting from the last checkpoint",
        what_, options_.transactional_id_pool));
  }
  producer.begin_transaction();
  current_ = std::make_unique<Epoch>();
  current_->slot = slot;
  ++epoch_sequence_;
}

void KafkaSinkCore::send(const KafkaOutMessage& message) {
  if (options_.guarantee == KafkaGuarantee::kExactlyOnce) {
    if (!current_) begin_epoch();
    current_->output.append(message);
    rd_kafka_resp_err_t error = slots_[current_->slot]->produce(message);
    if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw ExternalError(fmt::format("{}: produce failed: {}", what_, error_text(error)));
    }
    return;
  }
  rd_kafka_resp_err_t error = plain_->produce(message);
  if (error == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  if (options_.guarantee == KafkaGuarantee::kAtLeastOnce) {
    throw ExternalError(fmt::format("{}: produce failed: {}", what_, error_text(error)));
  }
  // none: counted and logged like a failed delivery.
  DeliveryStats& stats = plain_->stats();
  ++stats.failed;
  if (stats.failed_since_taken++ == 0) {
    stats.first_failure = error_text(error);
    log::connectors()->error("{}: produce failed: {}", what_, stats.first_failure);
  }
}

void KafkaSinkCore::after_batch() {
  if (plain_) plain_->poll();
  if (current_) slots_[current_->slot]->poll();
}

void KafkaSinkCore::check_deliveries(SinkProducer& producer, const char* when) {
  std::string first;
  uint64_t failed = producer.take_failures(first);
  if (failed == 0) return;
  producer.abort_transaction();  // no-op unless transactional
  throw ExternalError(
      fmt::format("{}: {} deliveries failed before {}; the first: {}", what_, failed, when, first));
}

std::string KafkaSinkCore::prepare_commit(int64_t checkpoint_id) {
  switch (options_.guarantee) {
    case KafkaGuarantee::kNone:
      plain_->poll();
      return {};
    case KafkaGuarantee::kAtLeastOnce:
      plain_->flush();
      check_deliveries(*plain_, fmt::format("checkpoint {}", checkpoint_id).c_str());
      return {};
    case KafkaGuarantee::kExactlyOnce:
      break;
  }
  if (current_) {
    SinkProducer& producer = *slots_[current_->slot];
    producer.flush();
    check_deliveries(producer, fmt::format("checkpoint {}", checkpoint_id).c_str());
    SLUICE_FAULT_POINT("kafka-sink.epoch-flushed");
    prepared_[checkpoint_id] = std::move(current_);
  }
  KafkaSinkState state;
  state.run_token = run_token_;
  state.subtask = subtask_;
  state.pool_size = options_.transactional_id_pool;
  state.last_committed = last_committed_;
  for (const auto& [id, epoch] : prepared_) {
    state.epochs.push_back(PreparedEpoch{id, epoch->slot, epoch->output});
  }
  return encode_versioned(KafkaSinkState::kFormat, state);
}

void KafkaSinkCore::commit_epoch(int64_t checkpoint_id, Epoch& epoch) {
  SinkProducer& producer = *slots_[epoch.slot];
  producer.produce_marker(marker_topic_, 0,
                          marker_key_of(options_.transactional_id_prefix, subtask_, run_token_),
                          std::to_string(checkpoint_id));
  producer.commit_transaction();
  SLUICE_FAULT_POINT("kafka-sink.transaction-committed");
  last_committed_ = checkpoint_id;
  log::connectors()->debug("{}: committed epoch {} ({} messages, {})", what_, checkpoint_id,
                           epoch.output.size(), producer.transactional_id());
}

void KafkaSinkCore::commit(int64_t checkpoint_id) {
  for (auto it = prepared_.begin(); it != prepared_.end() && it->first <= checkpoint_id;) {
    commit_epoch(it->first, *it->second);
    it = prepared_.erase(it);
  }
}

void KafkaSinkCore::finish() {
  switch (options_.guarantee) {
    case KafkaGuarantee::kNone:
      plain_->flush();
      break;
    case KafkaGuarantee::kAtLeastOnce:
      plain_->flush();
      check_deliveries(*plain_, "the end of input");
      break;
    case KafkaGuarantee::kExactlyOnce:
      // The open epoch is prepared by the job's final checkpoint and
      // committed when it completes, like every other epoch.
      break;
  }
}

void KafkaSinkCore::close() {
  // Whatever is still in a transaction was not committed through a
  // checkpoint: abort it (a restore publishes prepared epochs again).
  for (auto& producer : slots_) {
    if (producer) producer->abort_transaction();
  }
  for (auto& producer : slots_) {
    if (!producer) continue;
    retired_delivered_ += producer->stats().delivered;
    retired_failed_ += producer->stats().failed;
  }
  if (plain_) {
    retired_delivered_ += plain_->stats().delivered;
    retired_failed_ += plain_->stats().failed;
    std::string first;
    pending_failures_ += plain_->take_failures(first);
    if (pending_first_failure_.empty()) pending_first_failure_ = std::move(first);
  }
  slots_.clear();
  plain_.reset();
  current_.reset();
  prepared_.clear();
}

std::string KafkaSinkCore::take_failure_note() {
  if (options_.guarantee != KafkaGuarantee::kNone) return {};
  uint64_t failed = pending_failures_;
  std::string first = std::move(pending_first_failure_);
  pending_failures_ = 0;
  if (plain_) {
    std::string more;
    failed += plain_->take_failures(more);
    if (first.empty()) first = std::move(more);
  }
  if (failed == 0) return {};
  return fmt::format("{}: {} messages were not delivered (guarantee none); the first: {}", what_,
                     failed, first);
}

uint64_t KafkaSinkCore::delivered() const {
  uint64_t total = retired_delivered_ + (plain_ ? plain_->stats().delivered : 0);
  for (const auto& producer : slots_) total += producer ? producer->stats().delivered : 0;
  return total;
}

uint64_t KafkaSinkCore::failed() const {
  uint64_t total = retired_failed_ + (plain_ ? plain_->stats().failed : 0);
  for (const auto& producer : slots_) total += producer ? producer->stats().failed : 0;
  return total;
}

void EpochOutput::append(const KafkaOutMessage& message) {
  StoredMessage stored;
  stored.has_key = message.has_key();
  stored.key_size = static_cast<uint32_t>(message.key().size());
  stored.value_size = static_cast<uint32_t>(message.value().size());
  stored.partition = message.partition();
  stored.header_count = static_cast<uint32_t>(message.header_count());
  bytes.append(message.key()).append(message.value());
  message.for_each_header([&](std::string_view name, std::string_view value) {
    bytes.append(name).append(value);
    headers.push_back({static_cast<uint32_t>(name.size()), static_cast<uint32_t>(value.size())});
  });
  messages.push_back(stored);
}

}  // namespace sluice::kafka
