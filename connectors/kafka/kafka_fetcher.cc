#include "connectors/kafka/kafka_fetcher.h"

#include <algorithm>
#include <cstring>
#include <set>

#include <fmt/format.h>

#include "connectors/kafka/kafka_lag_probe.h"
#include "connectors/slice_plan.h"
#include "connectors/split_positions.h"
#include "runtime/core/logging.h"

namespace sluice::kafka {
namespace {

// Messages taken from librdkafka per poll: the stash never holds more.
constexpr size_t kPollBatch = 1024;

Properties consumer_properties(const KafkaSourceOptions& options) {
  Properties properties = options.properties;
  properties.emplace("group.id", "sluice-" + options.topics.front());
  properties.emplace("enable.auto.commit", "false");
  properties.emplace("enable.auto.offset.store", "false");
  // A position no longer on the broker is an error, handled by the reader
  // (on_lost_offsets), never a silent jump.
  properties["auto.offset.reset"] = "error";
  properties["enable.partition.eof"] = "true";
  return properties;
}

// Errors after which reading cannot go on by retrying in place.
bool is_fatal(rd_kafka_resp_err_t error) {
  switch (error) {
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
    case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
      return true;
    default:
      return false;
  }
}

}  // namespace

KafkaFetcher::KafkaFetcher(KafkaSourceOptions options, int subtask, int parallelism)
    : options_(std::move(options)),
      name_(source_name(options_)),
      subtask_(subtask),
      parallelism_(parallelism),
      bounded_(options_.stop == StopAt::kLatest) {
  validate_kafka_source_options(options_);
}

KafkaFetcher::~KafkaFetcher() {
  close();
}

void KafkaFetcher::open(const std::string& task_name, Timestamp now, JobMetrics* metrics) {
  if (client_) return;
  task_name_ = task_name;
  metrics_ = metrics;
  if (metrics != nullptr) {
    lag_probe_ = std::make_unique<KafkaLagProbe>();
    lag_probe_->attach(metrics->registry, task_name);
  }
  client_ =
      make_client(RD_KAFKA_CONSUMER, consumer_properties(options_), name_, configure_client, this);
  // Errors and events of the main queue arrive through the consumer poll.
  rd_kafka_poll_set_consumer(client_.get());
  for (const std::string& name : options_.topics) {
    topic_handles_.push_back(rd_kafka_topic_new(client_.get(), name.c_str(), nullptr));
  }
  known_partitions_.assign(options_.topics.size(), 0);
  read_start_metadata();
  resolve_offsets();
  if (!bounded_ && options_.partition_discovery_interval > 0) {
    next_discovery_ = now + options_.partition_discovery_interval;
  }
  log::connectors()->info("{}: {}: reading {} partitions{}", task_name_, name_, partitions_.size(),
                          bounded_ ? " up to their current ends" : "");
}

void KafkaFetcher::close() {
  lag_probe_.reset();                                       // before the client goes
  for (OwnedPartition& p : partitions_) p.fetched.clear();  // before their client goes
  for (rd_kafka_topic_t* handle : topic_handles_) rd_kafka_topic_destroy(handle);
  topic_handles_.clear();
  if (client_) {
    rd_kafka_consumer_close(client_.get());
    client_.reset();
  }
  assigned_ = false;
}

void KafkaFetcher::restore(const std::vector<SplitPosition>& positions) {
  if (positions.empty()) return;  // nothing stored: the configured start
  std::set<TopicPartition> seen;
  std::set<size_t> restored;
  for (const SplitPosition& stored : positions) {
    KafkaPartitionPosition position;
    try {
      position = decode_versioned<KafkaPartitionPosition>(KafkaPartitionPosition::kFormat,
                                                          stored.position);
    } catch (const InputError& error) {
      throw corrupt_position(name_, stored.split, error.what());
    }
    if (!seen.insert({position.topic, position.partition}).second) {
      throw corrupt_position(name_, stored.split, "the checkpoint holds two positions for it");
    }
    auto topic = std::find(options_.topics.begin(), options_.topics.end(), position.topic);
    if (topic == options_.topics.end()) continue;  // a topic no longer read
    OwnedPartition* p = find(static_cast<int>(topic - options_.topics.begin()), position.partition);
    if (p == nullptr) continue;  // another subtask's, or gone from the metadata
    p->next_offset = position.next_offset;
    if (bounded_ && position.stop_offset >= 0) p->stop_offset = position.stop_offset;
    restored.insert(by_split_.at(p->split));
  }
  // Owned partitions the checkpoint does not know are new since: earliest.
  for (size_t i = 0; i < partitions_.size(); ++i) {
    if (restored.count(i) == 0) partitions_[i].next_offset = RD_KAFKA_OFFSET_BEGINNING;
  }
}

std::vector<int> KafkaFetcher::splits() const {
  std::vector<int> ids;
  for (const OwnedPartition& p : partitions_) ids.push_back(p.split);
  return ids;
}

// ---------------------------------------------------------------------------
// Partitions.

void KafkaFetcher::take_partitions(int topic_index, int from, int to, int64_t start_offset) {
  const std::string& name = topic(topic_index);
  for (int32_t partition = from; partition < to; ++partition) {
    if (owner_of(name, partition, parallelism_) != subtask_) continue;
    OwnedPartition p;
    p.topic_index = topic_index;
    p.partition = partition;
    p.split = split_index(topic_index, partition);
    p.next_offset = start_offset;
    by_split_[p.split] = partitions_.size();
    partitions_.push_back(std::move(p));
  }
}

OwnedPartition* KafkaFetcher::find(int topic_index, int32_t partition) {
  if (partition < 0 || partition >= kPartitionsPerTopic) return nullptr;
  auto found = by_split_.find(split_index(topic_index, partition));
  return found == by_split_.end() ? nullptr : &partitions_[found->second];
}

int KafkaFetcher::topic_index_of(const rd_kafka_message_t& message) const {
  if (message.rkt == nullptr) return -1;
  const char* name = rd_kafka_topic_name(message.rkt);
  for (size_t t = 0; t < options_.topics.size(); ++t) {
    if (std::strcmp(options_.topics[t].c_str(), name) == 0) return static_cast<int>(t);
  }
  return -1;
}

void KafkaFetcher::assign_all() {
  TopicPartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions_.size())));
  for (const OwnedPartition& p : partitions_) {
    if (p.finished()) continue;
    rd_kafka_topic_partition_list_add(list.get(), topic(p.topic_index).c_str(), p.partition)
        ->offset = p.next_offset;
  }
  rd_kafka_resp_err_t result = rd_kafka_assign(client_.get(), list.get());
  if (result != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw ExternalError(
        fmt::format("{}: cannot assign its partitions: {}", name_, error_text(result)));
  }
  assigned_ = true;
}

// New partitions of the topics (and topics that appeared) that this subtask
// owns join the assignment at earliest. A failed lookup waits for the next
// interval.
void KafkaFetcher::discover(Timestamp now) {
  next_discovery_ = now + options_.partition_discovery_interval;
  const size_t before = partitions_.size();
  for (size_t t = 0; t < options_.topics.size(); ++t) {
    std::string error;
    std::optional<int> count =
        partition_count(static_cast<int>(t), static_cast<int>(options_.discovery_timeout), error);
    if (!count) {
      log::connectors()->warn("{}: {}: partition discovery: {}", task_name_, name_, error);
      return;
    }
    if (*count <= known_partitions_[t]) continue;
    take_partitions(static_cast<int>(t), known_partitions_[t], *count, RD_KAFKA_OFFSET_BEGINNING);
    known_partitions_[t] = *count;
  }
  if (partitions_.size() == before) return;
  TopicPartitionList list(
      rd_kafka_topic_partition_list_new(static_cast<int>(partitions_.size() - before)));
  for (size_t i = before; i < partitions_.size(); ++i) {
    const OwnedPartition& p = partitions_[i];
    log::connectors()->info("{}: {}: discovered topic {} partition {} (split {})", task_name_,
                            name_, topic(p.topic_index), p.partition, p.split);
    rd_kafka_topic_partition_list_add(list.get(), topic(p.topic_index).c_str(), p.partition)
        ->offset = p.next_offset;
  }
  rd_kafka_error_t* error = rd_kafka_incremental_assign(client_.get(), list.get());
  if (error != nullptr) {
    std::string why = rd_kafka_error_string(error);
    rd_kafka_error_destroy(error);
    throw ExternalError(fmt::format("{}: cannot assign discovered partitions: {}", name_, why));
  }
}

void KafkaFetcher::pause(const OwnedPartition& partition) {
  TopicPartitionList list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), topic(partition.topic_index).c_str(),
                                    partition.partition);
  // Only stops fetching past the end; a failure costs bandwidth, not records.
  rd_kafka_pause_partitions(client_.get(), list.get());
}

// ---------------------------------------------------------------------------
// Reading.

KafkaFetcher::Next KafkaFetcher::next(Timestamp now) {
  throw_if_failed();
  if (!assigned_) assign_all();
  if (now >= next_discovery_) discover(now);
  if (lag_probe_) lag_probe_->update(client_.get(), options_.topics, partitions_, now);
  for (int round = 0; round < 2; ++round) {
    if (round == 1) {
      if (slicing_ && slice_reached()) break;  // what comes now is for later slices
      poll_messages(kPollBatch);
    }
    if (OwnedPartition* p = take_finished()) return {Status::kSplitFinished, p};
    if (OwnedPartition* p = next_ready()) return {Status::kRecords, p};
  }
  if (bounded_ && all_reported()) return {Status::kFinished};
  if (slicing_ && slice_reached()) return {Status::kSliceEnd};
  return {Status::kNotYet, nullptr, now + options_.poll_interval};
}

rd_kafka_message_t* KafkaFetcher::peek(OwnedPartition& partition) {
  apply_end_events(partition);
  if (partition.fetched.empty()) return nullptr;
  if (slicing_ && !below_slice_end(partition)) return nullptr;
  return partition.fetched.front().get();
}

void KafkaFetcher::pop(OwnedPartition& partition) {
  partition.next_offset = partition.fetched.front()->offset + 1;
  partition.fetched.pop_front();
}

// An end-of-partition event at the front (every record before it consumed)
// moves the position to the partition's end, past any gap. With slices, an
// event past the slice's end moves it to the slice's end only and stays for
// the next slice.
void KafkaFetcher::apply_end_events(OwnedPartition& partition) {
  while (!partition.fetched.empty() &&
         partition.fetched.front()->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    int64_t end = partition.fetched.front()->offset;
    if (partition.stop_offset >= 0) end = std::min(end, partition.stop_offset);
    if (slicing_ && end > partition.slice_end) {
      partition.next_offset = std::max(partition.next_offset, partition.slice_end);
      return;
    }
    partition.next_offset = std::max(partition.next_offset, end);
    partition.fetched.pop_front();
  }
}

void KafkaFetcher::poll_messages(size_t max) {
  for (size_t i = 0; i < max; ++i) {
    rd_kafka_message_t* raw = rd_kafka_consumer_poll(client_.get(), 0);
    if (raw == nullptr) break;
    file_message(KafkaMessage(raw));
  }
  throw_if_failed();
}

void KafkaFetcher::file_message(KafkaMessage message) {
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR &&
      message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    on_consumer_error(*message);
    return;
  }
  int topic_index = topic_index_of(*message);
  OwnedPartition* p = topic_index < 0 ? nullptr : find(topic_index, message->partition);
  if (p == nullptr || p->finished()) return;  // not ours, or past a bounded end
  bool record = message->err == RD_KAFKA_RESP_ERR_NO_ERROR;
  if (record && p->stop_offset >= 0 && message->offset >= p->stop_offset) return;
  // With slices, a plan may have resolved a symbolic start after the
  // consumer did: records before the position are not the slice's.
  if (record && slicing_ && p->next_offset >= 0 && message->offset < p->next_offset) return;
  p->fetched.push_back(std::move(message));
}

OwnedPartition* KafkaFetcher::take_finished() {
  for (OwnedPartition& p : partitions_) {
    apply_end_events(p);
    if (p.finish_reported || !p.finished()) continue;
    p.finish_reported = true;
    p.fetched.clear();
    pause(p);
    log::connectors()->debug("{}: {}: topic {} partition {} (split {}) finished at offset {}",
                             task_name_, name_, topic(p.topic_index), p.partition, p.split,
                             p.next_offset);
    return &p;
  }
  return nullptr;
}

OwnedPartition* KafkaFetcher::next_ready() {
  for (size_t n = 0; n < partitions_.size(); ++n) {
    size_t i = (turn_ + n) % partitions_.size();
    if (peek(partitions_[i]) == nullptr) continue;
    turn_ = i + 1;
    return &partitions_[i];
  }
  return nullptr;
}

bool KafkaFetcher::all_reported() const {
  return std::all_of(partitions_.begin(), partitions_.end(),
                     [](const OwnedPartition& p) { return p.finish_reported; });
}

// ---------------------------------------------------------------------------
// Micro-batch slices.

std::vector<SplitSlice> KafkaFetcher::plan_slices(uint64_t max_records) {
  if (!client_) throw SluiceError(ErrorKind::kInternal, name_ + ": slices planned before open");
  std::vector<OwnedPartition*> unfinished;
  for (OwnedPartition& p : partitions_) {
    if (!p.finished()) unfinished.push_back(&p);
  }
  const std::vector<Watermarks> watermarks = query_watermarks(unfinished);
  std::vector<SplitSlice> slices;
  size_t looked_up = 0;
  for (OwnedPartition& p : partitions_) {
    if (p.finished()) {  // at its end: start = end = available
      slices.push_back({p.split, p.next_offset, p.next_offset, p.next_offset, true});
    } else {
      slices.push_back(plan_slice(p, watermarks[looked_up++], max_records));
    }
  }
  return slices;
}

SplitSlice KafkaFetcher::plan_slice(OwnedPartition& p, Watermarks watermarks,
                                    uint64_t max_records) {
  if (p.next_offset < 0) p.next_offset = resolve_position(p, watermarks);
  int64_t available = bounded_ ? std::min(watermarks.high, p.stop_offset) : watermarks.high;
  available = std::max(available, p.next_offset);
  const bool ended = bounded_ && available == p.stop_offset;
  return {p.split, p.next_offset, capped_slice_end(p.next_offset, available, max_records),
          available, ended};
}

// A partition without a slice reads nothing. A position still symbolic (a
// restored reader replaying a planned slice) starts where the plan resolved it.
void KafkaFetcher::start_slices(const std::vector<SplitSlice>& slices) {
  slicing_ = true;
  for (OwnedPartition& p : partitions_) p.slice_end = std::numeric_limits<int64_t>::min();
  for (const SplitSlice& slice : slices) {
    auto found = by_split_.find(slice.split);
    if (found == by_split_.end()) continue;
    OwnedPartition& p = partitions_[found->second];
    if (p.next_offset < 0) p.next_offset = slice.start;
    p.slice_end = slice.end;
  }
}

// The front of a non-empty stash is a record before the slice's end. A
// record at or past the end follows every record left below it: the
// position moves to the end.
bool KafkaFetcher::below_slice_end(OwnedPartition& p) {
  if (p.next_offset >= p.slice_end) return false;
  if (p.fetched.front()->offset < p.slice_end) return true;
  p.next_offset = p.slice_end;
  return false;
}

bool KafkaFetcher::at_slice_end(OwnedPartition& p) {
  return peek(p) == nullptr && p.next_offset >= p.slice_end;
}

bool KafkaFetcher::slice_reached() {
  return std::all_of(partitions_.begin(), partitions_.end(),
                     [&](OwnedPartition& p) { return p.finish_reported || at_slice_end(p); });
}

// ---------------------------------------------------------------------------
// Checkpoints.

std::vector<SplitPosition> KafkaFetcher::snapshot() const {
  std::vector<SplitPosition> positions;
  last_snapshot_.clear();
  for (size_t i = 0; i < partitions_.size(); ++i) {
    const OwnedPartition& p = partitions_[i];
    KafkaPartitionPosition position{topic(p.topic_index), p.partition, p.next_offset,
                                    p.stop_offset};
    positions.push_back({p.split, encode_versioned(KafkaPartitionPosition::kFormat, position)});
    last_snapshot_.emplace_back(i, p.next_offset);
  }
  return positions;
}

void KafkaFetcher::commit_last_snapshot() {
  if (!options_.commit_offsets_on_checkpoint || !client_) return;
  TopicPartitionList list(
      rd_kafka_topic_partition_list_new(static_cast<int>(last_snapshot_.size())));
  for (const auto& [index, offset] : last_snapshot_) {
    if (offset < 0) continue;  // not read yet: nothing to say
    const OwnedPartition& p = partitions_[index];
    rd_kafka_topic_partition_list_add(list.get(), topic(p.topic_index).c_str(), p.partition)
        ->offset = offset;
  }
  if (list->cnt == 0) return;
  rd_kafka_resp_err_t result = rd_kafka_commit(client_.get(), list.get(), 1);
  if (result != RD_KAFKA_RESP_ERR_NO_ERROR) {
    log::connectors()->warn("{}: {}: cannot commit offsets to the consumer group: {}", task_name_,
                            name_, error_text(result));
  }
}

// ---------------------------------------------------------------------------
// Errors.

void KafkaFetcher::on_consumer_error(const rd_kafka_message_t& message) {
  std::string where;
  int topic_index = topic_index_of(message);
  if (message.err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
      message.err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
    OwnedPartition* p = topic_index < 0 ? nullptr : find(topic_index, message.partition);
    if (p != nullptr) {
      on_lost_offsets(*p);
      return;
    }
  }
  if (topic_index >= 0) {
    where = fmt::format(" on topic {} partition {}", topic(topic_index), message.partition);
  }
  std::string what = fmt::format("consumer error{}: {} ({})", where,
                                 rd_kafka_message_errstr(&message), rd_kafka_err2name(message.err));
  if (is_fatal(message.err)) throw ExternalError(name_ + ": " + what);
  log::connectors()->warn("{}: {}: {}; retrying", task_name_, name_, what);
}

void KafkaFetcher::configure_client(rd_kafka_conf_t* conf, void* fetcher) {
  rd_kafka_conf_set_opaque(conf, fetcher);
  rd_kafka_conf_set_error_cb(conf, on_client_error);
}

// Runs inside rd_kafka_consumer_poll (C frames): records, never throws.
void KafkaFetcher::on_client_error(rd_kafka_t* client, int error, const char* reason,
                                   void* opaque) {
  auto* fetcher = static_cast<KafkaFetcher*>(opaque);
  auto code = static_cast<rd_kafka_resp_err_t>(error);
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    char detail[512];
    code = rd_kafka_fatal_error(client, detail, sizeof(detail));
    fetcher->failure_ =
        fmt::format("fatal consumer error: {} ({})", detail, rd_kafka_err2name(code));
    return;
  }
  if (is_fatal(code)) {
    fetcher->failure_ = fmt::format("consumer error: {} ({})", reason, rd_kafka_err2name(code));
    return;
  }
  // Brokers down, timeouts: librdkafka retries by itself.
  log::connectors()->warn("{}: {}: {} ({}); retrying", fetcher->task_name_, fetcher->name_, reason,
                          rd_kafka_err2name(code));
}

void KafkaFetcher::throw_if_failed() {
  if (failure_) throw ExternalError(name_ + ": " + *failure_);
}

}  // namespace sluice::kafka
