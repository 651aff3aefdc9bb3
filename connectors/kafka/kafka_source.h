// KafkaSource: reads Kafka topics and turns each record into a T with a
// deserializer:
//
//   std::optional<T> deserialize(const KafkaRecord& record);
//
// The record (connectors/kafka/kafka_source_options.h) is a view valid only
// during the call: topic, partition, offset, key, value, timestamp and its
// type, headers. The deserializer returns the value; std::nullopt to drop
// the record silently; and throws InputError for a malformed record, best
// built with `record.error("what is wrong")`. The options' OnError policy
// then fails the job ("kafka source 'NAME': topic T partition P offset O:
// WHAT") or skips the record, counts it and notes it at the end. Other
// exceptions fail the job.
//
//   KafkaSourceOptions in;
//   in.topics = {"events"};
//   in.properties = {{"bootstrap.servers", params.get("bootstrap")}};
//   in.stop = StopAt::kLatest;  // bounded
//   auto parse = [](const KafkaRecord& r) -> std::optional<Event> { ... };
//   auto source = std::make_shared<KafkaSource<Event, decltype(parse)>>(in, parse);
//   topology.source<Event>("events", source,
//                          bounded_out_of_orderness(event_time, 500, /*idle=*/5000));
//
// Splits: every partition is a split with its own watermark; its index is
// topic index * 1'000'000 + partition (split_index()). Partition p of topic
// t is read by subtask owner_of(t, p): (hash(t) % parallelism + p) %
// parallelism; no consumer-group rebalancing. Idle partitions stop holding
// the watermark back through the WatermarkStrategy's idle timeout.
// Partitions found by discovery join at run time; their watermark counts
// from their first records.
//
// Checkpoints: a partition's position is (topic, partition, next offset,
// stop offset); a restored reader, at any parallelism, takes the positions
// of the partitions it owns now. The consumer group's committed offsets are
// only written for monitoring (commit_offsets_on_checkpoint).
//
// Micro-batch slices: a partition's position is its next offset, what is
// available its high watermark when the slice is planned (capped by the
// stop offset when bounded, where it has ended), so a slice of n records
// ends n offsets further (fewer records where offsets hold transaction
// markers). A slice never returns a record at or past a partition's end and
// always reaches the end, gaps included (see kafka_fetcher.h). Partitions
// discovered during a slice read nothing until the next plan takes them in.
//
// Threading: the KafkaSource is the plan, shared by all subtasks
// (create_reader may be called from any thread); each reader, with its own
// consumer and copy of the deserializer, is used only by its task's thread.
// Lifecycle: create_reader -> open (connects; blocks up to start_timeout,
// then throws ExternalError "kafka source 'NAME': cannot reach bootstrap
// servers X: WHY") -> restore_positions (after a restore) -> read* (until
// kFinished when bounded; in micro-batch mode plan_slices, start_slices,
// read* until kSliceEnd, repeated) with snapshot_positions and
// notify_checkpoint_complete between reads -> close.
#pragma once

#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "connectors/file_source_support.h"
#include "connectors/kafka/dead_letter.h"
#include "connectors/kafka/kafka_fetcher.h"
#include "connectors/kafka/kafka_source_options.h"
#include "connectors/split_assignment.h"
#include "connectors/throttle.h"
#include "runtime/metrics/metrics.h"
#include "runtime/operator/source.h"

namespace sluice::kafka {

template <class F, class T>
concept KafkaDeserializer = std::copy_constructible<F> && requires(F& f, const KafkaRecord& r) {
  { f(r) } -> std::convertible_to<std::optional<T>>;
};

// Applies the OnError policy to one reader's malformed records; counts the
// skipped ones with MalformedLines. In kafka_source.cc.
class MalformedRecords {
 public:
  MalformedRecords(OnError policy, std::string source)
      : policy_(policy), source_(std::move(source)) {}
  // With dead letters: sends the record there and counts it. Otherwise
  // kFail: throws InputError "SOURCE: topic T partition P offset O: WHAT";
  // kSkip: counts the record.
  void on_error(const InputError& error, const KafkaRecord& record);
  void set_dead_letters(DeadLetters* dead_letters) { dead_letters_ = dead_letters; }
  uint64_t take_unreported() { return counter_.take_unreported(); }
  uint64_t skipped() const { return counter_.skipped(); }
  // "SOURCE: skipped 3 malformed records (first at topic T partition P offset
  // O: WHAT)", or "" when nothing was skipped.
  std::string note() const;

 private:
  OnError policy_;
  std::string source_;
  DeadLetters* dead_letters_ = nullptr;
  MalformedLines counter_{OnError::kSkip};
  std::string first_;  // the first skipped record's message
};

template <class T, KafkaDeserializer<T> DeserializeFn>
class KafkaSourceReader final : public SourceReader<T> {
 public:
  KafkaSourceReader(const KafkaSourceOptions& options, DeserializeFn deserialize, int subtask,
                    int parallelism)
      : fetcher_(options, subtask, parallelism),
        deserialize_(std::move(deserialize)),
        malformed_(options.on_error, fetcher_.name()),
        throttle_(options.rate / parallelism),
        properties_(options.properties),
        dead_letter_topic_(options.dead_letter_topic) {}

  void open(const SourceReaderContext& context) override {
    metrics_ = context.metrics;
    Timestamp now = context.clock != nullptr ? context.clock->now_ms() : 0;
    fetcher_.open(context.task_name, now, context.metrics);
    if (!dead_letter_topic_.empty()) {
      dead_letters_ =
          std::make_unique<DeadLetters>(properties_, dead_letter_topic_, fetcher_.name());
      malformed_.set_dead_letters(dead_letters_.get());
    }
  }

  std::vector<int> splits() const override { return fetcher_.splits(); }

  ReadResult read(Batch<T>& out, size_t max_records, Timestamp now) override {
    size_t allowed = throttle_.allowance(max_records, now);
    if (allowed == 0) return {ReadStatus::kNotYet, 0, throttle_.next_allowed(now)};
    KafkaFetcher::Next next = fetcher_.next(now);
    switch (next.status) {
      case KafkaFetcher::Status::kRecords:
        throttle_.consume(deserialize(*next.partition, out, allowed));
        return {ReadStatus::kRecords, next.partition->split};
      case KafkaFetcher::Status::kSplitFinished:
        return {ReadStatus::kSplitFinished, next.partition->split};
      case KafkaFetcher::Status::kNotYet:
        return {ReadStatus::kNotYet, 0, next.retry_at};
      case KafkaFetcher::Status::kSliceEnd:
        return {ReadStatus::kSliceEnd};
      case KafkaFetcher::Status::kFinished:
        break;
    }
    add_note();
    return {ReadStatus::kFinished};
  }

  void close() override {
    add_note();
    fetcher_.close();
    if (dead_letters_) dead_letters_->flush();
  }

  // Dead letters sent before the checkpoint are made durable first.
  std::vector<SplitPosition> snapshot_positions() const override {
    if (dead_letters_) dead_letters_->flush();
    return fetcher_.snapshot();
  }

  void restore_positions(const std::vector<SplitPosition>& positions) override {
    fetcher_.restore(positions);
  }

  void notify_checkpoint_complete(int64_t) override { fetcher_.commit_last_snapshot(); }

  // Blocks on the partitions' watermark lookup (see KafkaFetcher).
  std::vector<SplitSlice> plan_slices(uint64_t max_records) override {
    return fetcher_.plan_slices(max_records);
  }

  void start_slices(const std::vector<SplitSlice>& slices) override {
    fetcher_.start_slices(slices);
  }

  uint64_t skipped() const { return malformed_.skipped(); }

 private:
  // Deserializes up to `limit` fetched records of `partition` into `out`;
  // returns how many records it took (skipped ones included).
  size_t deserialize(OwnedPartition& partition, Batch<T>& out, size_t limit) {
    const std::string& topic = fetcher_.topic(partition.topic_index);
    const size_t goal = out.size() + limit;
    size_t taken = 0;
    while (out.size() < goal) {
      rd_kafka_message_t* message = fetcher_.peek(partition);
      if (message == nullptr) break;
      deserialize_one(record_view(topic, message), out);
      fetcher_.pop(partition);
      ++taken;
    }
    uint64_t skipped = malformed_.take_unreported();
    if (skipped > 0 && metrics_ != nullptr) {
      metrics_->skipped_records.add(skipped);
    }
    return taken;
  }

  void deserialize_one(const KafkaRecord& record, Batch<T>& out) {
    try {
      std::optional<T> value = deserialize_(record);
      if (value) out.emplace_back(std::move(*value), 0);
    } catch (const InputError& error) {
      malformed_.on_error(error, record);
    }
  }

  void add_note() {
    if (noted_) return;
    noted_ = true;
    std::string note = malformed_.note();
    if (metrics_ != nullptr && !note.empty()) metrics_->add_note(std::move(note));
  }

  KafkaFetcher fetcher_;
  DeserializeFn deserialize_;
  MalformedRecords malformed_;
  Throttle throttle_;
  Properties properties_;
  std::string dead_letter_topic_;
  std::unique_ptr<DeadLetters> dead_letters_;
  JobMetrics* metrics_ = nullptr;
  bool noted_ = false;
};

template <class T, KafkaDeserializer<T> DeserializeFn>
class KafkaSource final : public Source<T> {
 public:
  // Throws UsageError for invalid options (see validate_kafka_source_options).
  KafkaSource(KafkaSourceOptions options, DeserializeFn deserialize)
      : options_(std::move(options)), deserialize_(std::move(deserialize)) {
    validate_kafka_source_options(options_);
  }

  std::unique_ptr<SourceReader<T>> create_reader(int subtask, int parallelism) const override {
    return make_reader(subtask, parallelism);
  }

  // The typed reader, for tests that drive it directly.
  std::unique_ptr<KafkaSourceReader<T, DeserializeFn>> make_reader(int subtask,
                                                                   int parallelism) const {
    check_subtask(subtask, parallelism);
    return std::make_unique<KafkaSourceReader<T, DeserializeFn>>(options_, deserialize_, subtask,
                                                                 parallelism);
  }

  const KafkaSourceOptions& options() const { return options_; }

 private:
  KafkaSourceOptions options_;
  DeserializeFn deserialize_;
};

// The record type a deserializer yields: T for std::optional<T>.
template <class DeserializeFn>
using deserialized_type_t =
    typename std::invoke_result_t<DeserializeFn&, const KafkaRecord&>::value_type;

template <class DeserializeFn>
KafkaSource(KafkaSourceOptions, DeserializeFn)
    -> KafkaSource<deserialized_type_t<DeserializeFn>, DeserializeFn>;

}  // namespace sluice::kafka
