// KafkaFetcher: the record-type-independent half of a Kafka source reader
// (connectors/kafka/kafka_source.h). It owns one librdkafka consumer, the
// partitions its subtask owns and their positions, and hands fetched
// messages out one partition at a time.
//
// Assignment: no consumer-group membership. The fetcher reads the topics'
// metadata, keeps the partitions owner_of() gives its subtask, and assigns
// them with rd_kafka_assign() at explicit offsets. Messages of all partitions
// arrive on the consumer queue; the fetcher polls it without blocking and
// files each message under its partition (at most one poll's worth, so
// memory stays bounded), because a read returns records of one split.
//
// Positions: a partition's next offset advances when the reader consumes a
// message (pop) or reaches an end-of-partition event past a gap (transaction
// markers, compaction). Stashed messages not yet consumed are not part of
// the position, so a snapshot never covers records nobody read.
//
// Micro-batch slices: a partition's position is its next offset; what is
// available is its high watermark (capped by the stop offset when bounded),
// looked up when a slice is planned; a symbolic position (earliest, latest,
// the group's offset) is resolved to an offset then. Within a slice, peek()
// never returns a record at or past the partition's slice end: fetched
// records beyond it stay stashed for the next slice. A partition reaches its
// end by consuming the records below it, or when what follows them (a record
// at or past the end, an end-of-partition event) shows that no record is left
// below it: the position then moves to the end exactly, and an
// end-of-partition event past the end stays stashed for the next slice (it
// is not sent again). A partition at its end is not paused: until every
// partition reached its end, what it still fetches waits in the stash; once
// all did, next() stops polling.
//
// Errors: open() retries unreachable brokers with backoff for
// start_timeout, then throws ExternalError "kafka source 'NAME': cannot
// reach bootstrap servers X: WHY". During the run, transient consumer
// errors (a broker down, a timeout) are logged as warnings while librdkafka
// retries; fatal ones (fatal client errors, authorization, an offset out of
// range with auto.offset.reset=error) throw ExternalError from next(), so
// the job restarts from its checkpoint. librdkafka's callbacks never throw:
// they record the error for next() to throw.
//
// Threading: everything runs on the owning reader's task thread, including
// librdkafka's error callback (served from the consumer poll); librdkafka's
// own threads only log.
// Lifecycle: construct -> open (blocks up to start_timeout: metadata and
// start offsets) -> restore (optional) -> next/peek/pop, snapshot and
// commit_last_snapshot between them, and in micro-batch mode plan_slices
// and start_slices between slices -> close (also from the destructor).
#pragma once

#include <deque>
#include <limits>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "connectors/kafka/kafka_client.h"
#include "connectors/kafka/kafka_source_options.h"
#include "runtime/metrics/metrics.h"
#include "runtime/operator/source.h"

namespace sluice::kafka {

// One partition the fetcher owns.
struct OwnedPartition {
  int topic_index = 0;
  int32_t partition = 0;
  int split = 0;
  int64_t next_offset = RD_KAFKA_OFFSET_BEGINNING;
  int64_t stop_offset = -1;  // bounded: where it ends; -1 unbounded
  bool finish_reported = false;
  // With slices: the offset before which this slice stops; the minimum for
  // a partition without a slice (one discovered since the plan).
  int64_t slice_end = std::numeric_limits<int64_t>::min();
  // Fetched and not yet consumed, in offset order: records and
  // end-of-partition events.
  std::deque<KafkaMessage> fetched;

  bool finished() const { return stop_offset >= 0 && next_offset >= stop_offset; }
};

class KafkaLagProbe;

class KafkaFetcher {
 public:
  enum class Status {
    kRecords,        // `partition` has fetched records: peek/pop them
    kSplitFinished,  // `partition` reached its stop offset (reported once)
    kNotYet,         // nothing fetched; ask again at `retry_at`
    kFinished,       // bounded, and every owned partition has finished
    kSliceEnd,       // with slices: every unfinished partition is at its slice end
  };
  struct Next {
    Status status = Status::kNotYet;
    OwnedPartition* partition = nullptr;
    Timestamp retry_at = 0;
  };

  // Throws UsageError for invalid options.
  KafkaFetcher(KafkaSourceOptions options, int subtask, int parallelism);
  ~KafkaFetcher();
  KafkaFetcher(const KafkaFetcher&) = delete;
  KafkaFetcher& operator=(const KafkaFetcher&) = delete;

  // Creates the consumer, reads the topics' metadata and resolves the start
  // (and, bounded, stop) offsets of the owned partitions. Records skipped
  // because retention deleted them are counted in `metrics` (optional).
  void open(const std::string& task_name, Timestamp now, JobMetrics* metrics = nullptr);
  // Positions of a checkpoint (all old subtasks'): owned partitions found
  // there resume from them, the others start at earliest (they are new
  // since). Throws InputError for a corrupt position.
  void restore(const std::vector<SplitPosition>& positions);
  std::vector<int> splits() const;

  // What to read next; polls librdkafka (never blocking) when nothing is
  // stashed. Throws ExternalError on a fatal consumer error.
  Next next(Timestamp now);
  // The partition's next fetched record, or nullptr when none is stashed.
  rd_kafka_message_t* peek(OwnedPartition& partition);
  // The record peek() returned was consumed: the position moves past it.
  void pop(OwnedPartition& partition);

  // Micro-batch mode (SourceReader::plan_slices and start_slices). Planning
  // looks up the watermarks of all unfinished partitions in one attempt
  // bounded by min(start_timeout, kMaxPlanLookupMs) (a failure throws
  // ExternalError naming a topic and partition), and resolves symbolic
  // positions.
  std::vector<SplitSlice> plan_slices(uint64_t max_records);
  void start_slices(const std::vector<SplitSlice>& slices);
  static constexpr DurationMs kMaxPlanLookupMs = 5'000;

  // The position of every owned partition; remembered for
  // commit_last_snapshot().
  std::vector<SplitPosition> snapshot() const;
  // Commits the positions of the latest snapshot to the consumer group,
  // asynchronously (when commit_offsets_on_checkpoint is set).
  void commit_last_snapshot();
  void close();

  const std::string& name() const { return name_; }
  const std::string& topic(int topic_index) const { return options_.topics[topic_index]; }

 private:
  // Metadata and offsets, with retries (kafka_fetcher_start.cc).
  std::string try_read_metadata(int timeout_ms, std::vector<int>& counts);
  std::optional<int> partition_count(int topic_index, int timeout_ms, std::string& error);
  void read_start_metadata();
  void resolve_offsets();
  std::string try_resolve_offsets(int timeout_ms);
  std::string try_committed_offsets(int timeout_ms);
  void timestamp_offsets(int timeout_ms);
  template <class Attempt>
  void retry_until_deadline(const std::string& what, Attempt attempt);

  // Slices: planning lookups (kafka_fetcher_start.cc) and reading.
  struct Watermarks {
    int64_t low = 0;
    int64_t high = 0;
  };
  std::vector<Watermarks> query_watermarks(const std::vector<OwnedPartition*>& partitions);
  int64_t resolve_position(const OwnedPartition& partition, Watermarks watermarks);
  int64_t committed_offset(const OwnedPartition& partition, int64_t fallback);
  int plan_lookup_timeout_ms() const;
  SplitSlice plan_slice(OwnedPartition& partition, Watermarks watermarks, uint64_t max_records);
  bool below_slice_end(OwnedPartition& partition);
  bool at_slice_end(OwnedPartition& partition);
  bool slice_reached();

  // Partitions.
  void take_partitions(int topic_index, int from, int to, int64_t start_offset);
  OwnedPartition* find(int topic_index, int32_t partition);
  int topic_index_of(const rd_kafka_message_t& message) const;
  void assign_all();
  void discover(Timestamp now);
  void pause(const OwnedPartition& partition);

  // Polling.
  void poll_messages(size_t max);
  void file_message(KafkaMessage message);
  void apply_end_events(OwnedPartition& partition);
  OwnedPartition* take_finished();
  OwnedPartition* next_ready();
  bool all_reported() const;
  void on_consumer_error(const rd_kafka_message_t& message);
  // kafka_fetcher_lost.cc: the partition's position is no longer on the
  // broker: fail, or skip as options_.offset_reset says.
  void on_lost_offsets(OwnedPartition& partition);
  // Assigns `partition` again at `target`.
  void move_to(OwnedPartition& partition, int64_t target);
  void throw_if_failed();
  static void configure_client(rd_kafka_conf_t* conf, void* fetcher);
  static void on_client_error(rd_kafka_t* client, int error, const char* reason, void* opaque);

  const KafkaSourceOptions options_;
  const std::string name_;  // "kafka source 'NAME'"
  const int subtask_;
  const int parallelism_;
  const bool bounded_;
  std::string task_name_;
  KafkaHandle client_;
  std::vector<rd_kafka_topic_t*> topic_handles_;  // by topic index, for metadata
  std::vector<int> known_partitions_;             // by topic index: count in the metadata
  std::unique_ptr<KafkaLagProbe> lag_probe_;      // with metrics
  std::deque<OwnedPartition> partitions_;         // a deque: its elements never move
  std::unordered_map<int, size_t> by_split_;      // split -> index in partitions_
  mutable std::vector<std::pair<size_t, int64_t>> last_snapshot_;  // (index, next offset)
  std::optional<std::string> failure_;  // a fatal error recorded by a callback
  JobMetrics* metrics_ = nullptr;
  Timestamp next_discovery_ = kMaxTimestamp;
  size_t turn_ = 0;  // round robin over partitions_
  bool assigned_ = false;
  bool slicing_ = false;  // start_slices was called: read only up to each slice_end
};

}  // namespace sluice::kafka
