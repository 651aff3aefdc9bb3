#include "state/timer_queue.h"

#include "runtime/core/codec.h"

namespace sluice {

namespace {

using Bucket = TimerQueue::Bucket;

void append_entries(Timestamp ts, const Bucket& bucket, StateEntries& out) {
  std::string encoded_ts = encode_to_string(ts);
  for (const TimerQueue::TimerKey& timer : bucket.timers) {
    out.entries.push_back(StateEntry{timer.key, timer.ns, encoded_ts});
  }
}

// The buckets a snapshot froze, encoded by the snapshot writer.
class TimerCapture final : public TableCapture {
 public:
  explicit TimerCapture(std::vector<std::pair<Timestamp, const Bucket*>> buckets)
      : buckets_(std::move(buckets)) {}
  void encode_into(StateEntries& out) const override {
    out.kind = TimerQueue::kKind;
    for (const auto& [ts, bucket] : buckets_) append_entries(ts, *bucket, out);
  }
  void write(ByteWriter& writer) const override {
    Codec<std::string>::encode(TimerQueue::kKind, writer);
    write_state_entries(writer, [&](const auto& visit) {
      for (const auto& [ts, bucket] : buckets_) {
        for (const TimerQueue::TimerKey& timer : bucket->timers) visit(timer.key, timer.ns, ts);
      }
    });
  }

 private:
  std::vector<std::pair<Timestamp, const Bucket*>> buckets_;
};

}  // namespace

TimerQueue::TimerQueue(const KeyScope&, SnapshotPins& pins, const std::string&) : pins_(&pins) {}

TimerQueue::~TimerQueue() {
  for (const auto& [ts, bucket] : buckets_) delete bucket;
}

bool TimerQueue::add(Timestamp ts, std::string_view key, std::string_view ns) {
  auto it = buckets_.find(ts);
  if (it == buckets_.end()) {
    uint64_t version = pins_ == nullptr ? 0 : pins_->version();
    it = buckets_.emplace(ts, new Bucket{version, {}}).first;
  } else if (it->second->timers.contains(KeyView{key, ns})) {
    return false;
  }
  writable(it)->timers.insert(TimerKey{std::string(key), std::string(ns)});
  ++size_;
  return true;
}

bool TimerQueue::contains(Timestamp ts, std::string_view key, std::string_view ns) const {
  auto it = buckets_.find(ts);
  return it != buckets_.end() && it->second->timers.contains(KeyView{key, ns});
}

bool TimerQueue::remove(Timestamp ts, std::string_view key, std::string_view ns) {
  auto it = buckets_.find(ts);
  if (it == buckets_.end()) return false;
  const auto& timers = it->second->timers;
  auto found = timers.find(KeyView{key, ns});
  if (found == timers.end()) return false;
  --size_;
  if (timers.size() == 1) {
    erase_bucket(it);
  } else {
    Bucket* bucket = writable(it);
    bucket->timers.erase(bucket->timers.find(KeyView{key, ns}));
  }
  return true;
}

bool TimerQueue::pop_due(Timestamp upto, Timer& out) {
  if (buckets_.empty() || buckets_.begin()->first > upto) return false;
  auto it = buckets_.begin();
  out.timestamp = it->first;
  --size_;
  if (it->second->timers.size() == 1) {
    const TimerKey& only = *it->second->timers.begin();
    out.key = only.key;
    out.ns = only.ns;
    erase_bucket(it);
    return true;
  }
  Bucket* bucket = writable(it);
  auto first = bucket->timers.extract(bucket->timers.begin());
  out.key = std::move(first.value().key);
  out.ns = std::move(first.value().ns);
  return true;
}

TimerQueue::Bucket* TimerQueue::writable(Buckets::iterator it) {
  Bucket* bucket = it->second;
  if (pins_ == nullptr) return bucket;
  retired_.release(*pins_, RetiredEntries<Bucket>::kPerWrite);
  if (!pins_->frozen(bucket->version)) return bucket;
  auto* copy = new Bucket{pins_->version(), bucket->timers};
  it->second = copy;
  retired_.add(bucket, *pins_);
  return copy;
}

void TimerQueue::erase_bucket(Buckets::iterator it) {
  Bucket* bucket = it->second;
  buckets_.erase(it);
  if (pins_ != nullptr && pins_->frozen(bucket->version)) {
    retired_.add(bucket, *pins_);
  } else {
    delete bucket;
  }
}

void TimerQueue::snapshot_into(StateEntries& out) const {
  out.kind = kKind;
  for (const auto& [ts, bucket] : buckets_) append_entries(ts, *bucket, out);
}

std::unique_ptr<TableCapture> TimerQueue::capture() {
  std::vector<std::pair<Timestamp, const Bucket*>> frozen;
  frozen.reserve(buckets_.size());
  for (const auto& [ts, bucket] : buckets_) frozen.emplace_back(ts, bucket);
  return std::make_unique<TimerCapture>(std::move(frozen));
}

void TimerQueue::restore_from(const StateEntries& in, KeyGroupRange range) {
  for (const StateEntry& e : in.entries) {
    if (e.key.size() < 2 || !range.contains(read_key_group_prefix(e.key))) continue;
    add(decode_from_string<Timestamp>(e.value), e.key, e.ns);
  }
}

}  // namespace sluice
