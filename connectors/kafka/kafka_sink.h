// The Kafka sink: records are serialized by a user function
//
//   void serialize(const T& value, KafkaOutMessage& out);  // key, value, headers, partition
//
// and produced to one topic with librdkafka. Without an explicit partition a
// message goes where librdkafka's default partitioner puts its key (the same
// key always to the same partition; no key: at random).
//
// Guarantees (KafkaGuarantee):
// * none: fire and forget. Delivery failures are logged and counted (a note
//   in the end-of-job summary); a fatal producer error throws.
// * at-least-once: as none, and each checkpoint's barrier flushes the
//   producer (rd_kafka_flush) and fails the checkpoint (throws
//   ExternalError) if any delivery since the previous barrier failed, so a
//   completed checkpoint means everything before it is in Kafka. A replay
//   after a restore writes records again (duplicates).
// * exactly-once: librdkafka's transactional producer, one transaction per
//   checkpoint epoch (design section 8), made crash-safe as follows.
//
// Exactly-once. librdkafka cannot resume a prepared transaction after a
// crash (the Java client can, through its internals), and a new producer
// with the same transactional.id aborts whatever that id left open. So a
// crash after checkpoint N completed but before transaction N committed
// would lose epoch N's output unless the checkpoint itself holds it:
// * write: the epoch's messages are produced inside a transaction AND kept
//   in memory (one byte arena).
// * prepare_commit(N): flushes the transaction (every message acknowledged
//   by the broker, still invisible to read_committed readers) and returns,
//   as the checkpoint state, the run token, the subtask, the pool size and
//   every epoch not yet committed: its checkpoint id, its transactional.id
//   slot and its messages.
// * commit(N): for each prepared epoch <= N in order, produces a MARKER
//   record in the same transaction, then commits it. The marker goes to the
//   marker topic (default "<transactional_id_prefix>.sluice-commits"),
//   partition 0, key "<prefix>-<subtask>-<run token>", value the epoch's
//   checkpoint id in decimal. Committing an epoch that is already committed
//   (or unknown) does nothing.
// * recover(states) after a restore: new subtask i takes the state of every
//   old subtask j with j % parallelism == i. For each, it first runs
//   init_transactions on every transactional.id of j's pool, which aborts
//   (and fences) whatever the failed run left open; then reads partition 0
//   of the marker topic with isolation.level=read_committed up to its end;
//   every epoch whose marker key shows no checkpoint id >= its own is
//   produced again, with its marker, in a new transaction, and committed.
//   The state also records the newest epoch the run had committed when the
//   checkpoint was taken: when the markers show less (the topic was
//   deleted, or cannot be read with these settings), recovery fails with
//   an ExternalError instead of taking "no marker" for "never committed".
//
// Why this is sound on a real Kafka: the marker and the data are in one
// transaction, so the broker makes both visible or neither. After
// init_transactions has fenced the old producers, none of their
// transactions can still commit, and read_committed shows exactly the
// committed markers, so "no marker >= N" means epoch N's data is not
// visible and never will be: publishing it again loses nothing and
// duplicates nothing. Within a run epochs commit in checkpoint order, so a
// marker >= N proves N committed; the run token keeps runs apart (a run
// resumed from an older checkpoint numbers its checkpoints again from
// there). Markers are written at commit, not at prepare, so a partition-0
// transaction is open only for the instant of a commit, and a recovering
// reader does not wait on other subtasks' epochs.
//
// Limits: a transaction left open by a subtask index that neither the
// restored checkpoint nor the new run has (e.g. a run at higher parallelism
// that crashed before its first checkpoint) is aborted only by the broker's
// transaction timeout; if it holds a marker, recovery waits for that (and
// fails after recovery_timeout_ms; the restart tries again). An epoch's
// output is held in memory and in the checkpoint until it commits: budget
// one to two checkpoint intervals of output per subtask. The marker topic
// should exist beforehand, with cleanup.policy=compact, on a real cluster.
//
// What the development broker (librdkafka's mock) cannot show: it has no
// read_committed filtering (aborted and open transactions are visible, so a
// republished epoch appears twice there and an aborted marker would count),
// no fencing, and no transaction timeouts. Tests against it prove the flow
// (what is produced, committed, recovered and republished), not broker-side
// atomicity; that needs a real Kafka.
//
// transactional.ids are bounded: "<prefix>-<subtask>-<k>", k = the writer's
// epoch sequence % transactional_id_pool. An epoch needs its slot's previous
// transaction committed; when checkpoints stop completing (the pool is
// exhausted) the writer throws ExternalError and the job restarts. The
// broker aborts a transaction open longer than transaction.timeout.ms, so
// open() requires it to exceed checkpoint_interval_ms + kRecoveryMarginMs.
//
// Threading: KafkaSink is the plan, shared by all subtasks; each writer (with
// its own serializer copy) runs on its task's thread.
// Lifecycle: create_writer -> open (reaches the brokers, bounded) ->
// [recover] -> write* / prepare_commit / commit -> finish (end of input:
// flushes; in exactly-once mode the last epoch is prepared and committed
// by the job's final checkpoint) -> close. close() aborts whatever no
// checkpoint committed.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "connectors/kafka/kafka_client.h"
#include "connectors/kafka/kafka_message.h"
#include "connectors/kafka/kafka_sink_producer.h"
#include "runtime/metrics/metrics.h"
#include "runtime/operator/sink.h"

namespace sluice::kafka {

enum class KafkaGuarantee { kNone, kAtLeastOnce, kExactlyOnce };

// "none", "at-least-once", "exactly-once"; throws UsageError otherwise.
KafkaGuarantee parse_kafka_guarantee(const std::string& text);

// Recovery time that transaction.timeout.ms must leave on top of the
// checkpoint interval.
inline constexpr DurationMs kRecoveryMarginMs = 60'000;

struct KafkaSinkOptions {
  // The topic to write. Required.
  std::string topic;
  // librdkafka producer settings, passed through verbatim
  // (bootstrap.servers is required; see properties_from_params). Must not
  // set transactional.id: the sink names its transactional.ids itself.
  Properties properties;
  // Delivery guarantee. Default at-least-once.
  KafkaGuarantee guarantee = KafkaGuarantee::kAtLeastOnce;
  // Exactly-once: prefix of the transactional.ids, "<prefix>-<subtask>-<k>".
  // Required in that mode; must be unique among the sinks writing to the
  // cluster and stable across restarts of a job.
  std::string transactional_id_prefix;
  // Exactly-once: transactional.ids per subtask, 2..16. Default 3 (one open
  // epoch, one awaiting its checkpoint, one for an aborted checkpoint).
  int transactional_id_pool = 3;
  // Exactly-once: the job's checkpoint interval, set by the topology
  // (the sink context does not carry it). Required (> 0) in that mode.
  DurationMs checkpoint_interval_ms = 0;
  // Exactly-once: where commit markers go. Default (empty):
  // "<transactional_id_prefix>.sluice-commits".
  std::string marker_topic;
  // How long open() waits for the brokers before failing. Default 30 s.
  DurationMs startup_timeout_ms = 30'000;
  // Bound of each flush, transaction call and full-queue wait. Default 60 s.
  DurationMs operation_timeout_ms = 60'000;
  // Bound of reading the marker topic in recover(). Default 60 s.
  DurationMs recovery_timeout_ms = 60'000;
};

// Throws UsageError for a missing topic or bootstrap.servers, a
// transactional.id among the properties, and in exactly-once mode for a
// missing prefix, a pool outside 2..16, a missing checkpoint interval or a
// transaction.timeout.ms (librdkafka's default: 60000) not above
// checkpoint_interval_ms + kRecoveryMarginMs.
void validate_kafka_sink_options(const KafkaSinkOptions& options);

// The marker topic the options name (the default when empty).
std::string marker_topic_of(const KafkaSinkOptions& options);

// What recover() found (exactly-once), for logs and tests.
struct KafkaRecoveryStats {
  int committed_epochs = 0;    // marked committed: left alone
  int republished_epochs = 0;  // not marked: produced again and committed
  uint64_t republished_messages = 0;
  int fenced_ids = 0;  // transactional.ids init_transactions ran on
};

// Everything of a Kafka sink writer but the serializer: producers, the
// guarantee's protocol, recovery. Not a template, so it lives in the .cc.
class KafkaSinkCore {
 public:
  explicit KafkaSinkCore(KafkaSinkOptions options);
  ~KafkaSinkCore();
  KafkaSinkCore(const KafkaSinkCore&) = delete;
  KafkaSinkCore& operator=(const KafkaSinkCore&) = delete;

  void open(const SinkContext& context);
  // Sends one serialized message (copied; in exactly-once mode also kept).
  void send(const KafkaOutMessage& message);
  // After a batch: serves delivery reports, throws on a fatal error.
  void after_batch();
  std::string prepare_commit(int64_t checkpoint_id);
  void commit(int64_t checkpoint_id);
  void recover(const std::vector<std::string>& prepared);
  void finish();
  void close();

  // For tests and notes: messages acknowledged / failed over the writer's life.
  uint64_t delivered() const;
  uint64_t failed() const;
  const KafkaRecoveryStats& recovery_stats() const { return recovery_; }
  // Guarantee none: a line for the end-of-job summary about messages not
  // delivered since the previous call; empty when there were none.
  std::string take_failure_note();

 private:
  struct Epoch;
  SinkProducer& make_plain_producer();
  SinkProducer& slot_producer(int slot);
  void begin_epoch();
  void commit_epoch(int64_t checkpoint_id, Epoch& epoch);
  void check_deliveries(SinkProducer& producer, const char* when);
  // kafka_sink_recovery.cc: the highest committed marker per key in `keys`.
  std::map<std::string, int64_t> read_markers(const std::vector<std::string>& keys);
  void republish(SinkProducer& producer, const std::string& marker_key, int64_t checkpoint_id,
                 const EpochOutput& output);

  const KafkaSinkOptions options_;
  const std::string marker_topic_;
  std::string what_;  // "task: kafka sink 'topic'"
  int subtask_ = 0;
  int parallelism_ = 1;
  std::string run_token_;
  std::unique_ptr<SinkProducer> plain_;                 // none, at-least-once
  std::vector<std::unique_ptr<SinkProducer>> slots_;    // exactly-once pool
  std::unique_ptr<Epoch> current_;                      // exactly-once: open epoch
  std::map<int64_t, std::unique_ptr<Epoch>> prepared_;  // by checkpoint id
  uint64_t epoch_sequence_ = 0;
  int64_t last_committed_ = -1;     // the newest epoch committed with its marker
  uint64_t retired_delivered_ = 0;  // of producers already destroyed
  uint64_t retired_failed_ = 0;
  uint64_t pending_failures_ = 0;  // guarantee none: not yet in a note
  std::string pending_first_failure_;
  KafkaRecoveryStats recovery_;
};

template <class T, KafkaSerializer<T> SerializeFn>
class KafkaSinkWriter final : public SinkWriter<T> {
 public:
  KafkaSinkWriter(const KafkaSinkOptions& options, SerializeFn serialize)
      : core_(options), serialize_(std::move(serialize)) {}

  void open(const SinkContext& context) override {
    metrics_ = context.metrics;
    core_.open(context);
  }
  void write(Batch<T>& batch) override {
    for (const Record<T>& record : batch) {
      message_.reset();
      serialize_(record.value, message_);
      core_.send(message_);
    }
    core_.after_batch();
  }
  std::string prepare_commit(int64_t checkpoint_id) override {
    return core_.prepare_commit(checkpoint_id);
  }
  void commit(int64_t checkpoint_id) override { core_.commit(checkpoint_id); }
  void recover(const std::vector<std::string>& prepared) override { core_.recover(prepared); }
  void finish() override {
    core_.finish();
    add_note();
  }
  void close() override {
    core_.close();
    add_note();
  }

  const KafkaSinkCore& core() const { return core_; }

 private:
  void add_note() {
    std::string note = core_.take_failure_note();
    if (!note.empty() && metrics_ != nullptr) metrics_->add_note(std::move(note));
  }

  KafkaSinkCore core_;
  SerializeFn serialize_;
  KafkaOutMessage message_;  // reused for every record
  JobMetrics* metrics_ = nullptr;
};

template <class T, KafkaSerializer<T> SerializeFn>
class KafkaSink final : public Sink<T> {
 public:
  // Throws UsageError for invalid options (validate_kafka_sink_options).
  KafkaSink(KafkaSinkOptions options, SerializeFn serialize)
      : options_(std::move(options)), serialize_(std::move(serialize)) {
    validate_kafka_sink_options(options_);
  }
  std::unique_ptr<SinkWriter<T>> create_writer() const override {
    return std::make_unique<KafkaSinkWriter<T, SerializeFn>>(options_, serialize_);
  }
  const KafkaSinkOptions& options() const { return options_; }

 private:
  KafkaSinkOptions options_;
  SerializeFn serialize_;
};

// make_kafka_sink<T>(options, serialize): deduces the serializer's type.
template <class T, class SerializeFn>
requires KafkaSerializer<SerializeFn, T> std::shared_ptr<KafkaSink<T, SerializeFn>> make_kafka_sink(
    KafkaSinkOptions options, SerializeFn serialize) {
  return std::make_shared<KafkaSink<T, SerializeFn>>(std::move(options), std::move(serialize));
}

}  // namespace sluice::kafka
