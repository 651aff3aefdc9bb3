// KafkaOutMessage: the record a Kafka sink's serializer fills, and
// EpochOutput: an exactly-once sink's copy of one epoch's messages, kept in
// one byte arena so that storing a record allocates nothing of its own.
//
// A serializer is any callable `void(const T&, KafkaOutMessage&)`. The sink
// hands it the same, reset message for every record: buffers keep their
// capacity, so a serializer that writes into key_buffer()/value_buffer()
// allocates nothing once they have grown.
//
// Threading: owned by one sink writer, on its task's thread.
#pragma once

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/codec.h"

namespace sluice::kafka {

// "Let the partitioner choose": librdkafka's default partitioner hashes the
// key (consistent_random: the same key always goes to the same partition).
inline constexpr int32_t kAnyPartition = -1;

class KafkaOutMessage {
 public:
  // The key; a message without one has a null key (spread at random).
  void set_key(std::string_view key) {
    key_.assign(key);
    has_key_ = true;
  }
  // The key buffer, to append to; marks the message as keyed.
  std::string& key_buffer() {
    has_key_ = true;
    return key_;
  }
  void set_value(std::string_view value) { value_.assign(value); }
  std::string& value_buffer() { return value_; }
  // Appends a header; names may repeat (Kafka keeps them in order).
  void add_header(std::string_view name, std::string_view value) {
    header_bytes_.append(name).append(value);
    headers_.push_back({static_cast<uint32_t>(name.size()), static_cast<uint32_t>(value.size())});
  }
  // An explicit partition instead of partitioning by key.
  void set_partition(int32_t partition) { partition_ = partition; }

  bool has_key() const { return has_key_; }
  std::string_view key() const { return key_; }
  std::string_view value() const { return value_; }
  int32_t partition() const { return partition_; }
  size_t header_count() const { return headers_.size(); }
  // Calls fn(name, value) for each header, in order.
  template <class Fn>
  void for_each_header(Fn&& fn) const {
    size_t offset = 0;
    std::string_view bytes = header_bytes_;
    for (const HeaderSize& h : headers_) {
      fn(bytes.substr(offset, h.name), bytes.substr(offset + h.name, h.value));
      offset += h.name + h.value;
    }
  }

  // Empties the message and keeps the buffers' capacity.
  void reset() {
    key_.clear();
    value_.clear();
    header_bytes_.clear();
    headers_.clear();
    has_key_ = false;
    partition_ = kAnyPartition;
  }

 private:
  struct HeaderSize {
    uint32_t name;
    uint32_t value;
  };
  std::string key_;
  std::string value_;
  std::string header_bytes_;
  std::vector<HeaderSize> headers_;
  bool has_key_ = false;
  int32_t partition_ = kAnyPartition;
};

template <class Fn, class T>
concept KafkaSerializer = std::invocable<Fn&, const T&, KafkaOutMessage&>;

// One message of an EpochOutput; its bytes follow the previous message's in
// the arena: key, value, then each header's name and value.
struct StoredMessage {
  uint32_t key_size = 0;
  uint32_t value_size = 0;
  int32_t partition = kAnyPartition;
  bool has_key = false;
  uint32_t header_count = 0;
  SLUICE_FIELDS(key_size, value_size, partition, has_key, header_count)
};

struct StoredHeader {
  uint32_t name_size = 0;
  uint32_t value_size = 0;
  SLUICE_FIELDS(name_size, value_size)
};

// The messages of one epoch, in production order. Appending copies the
// bytes into the arena (amortised: no allocation per message).
struct EpochOutput {
  std::string bytes;
  std::vector<StoredMessage> messages;
  std::vector<StoredHeader> headers;
  SLUICE_FIELDS(bytes, messages, headers)

  void append(const KafkaOutMessage& message);
  bool empty() const { return messages.empty(); }
  size_t size() const { return messages.size(); }
  void clear() {
    bytes.clear();
    messages.clear();
    headers.clear();
  }
  // Calls fn(const KafkaOutMessage&) for every message in order, rebuilt in
  // `scratch`.
  template <class Fn>
  void for_each(KafkaOutMessage& scratch, Fn&& fn) const;
};

template <class Fn>
void EpochOutput::for_each(KafkaOutMessage& scratch, Fn&& fn) const {
  std::string_view arena = bytes;
  size_t offset = 0;
  size_t header = 0;
  for (const StoredMessage& m : messages) {
    scratch.reset();
    if (m.has_key) scratch.set_key(arena.substr(offset, m.key_size));
    offset += m.key_size;
    scratch.set_value(arena.substr(offset, m.value_size));
    offset += m.value_size;
    for (uint32_t i = 0; i < m.header_count; ++i, ++header) {
      const StoredHeader& h = headers[header];
      scratch.add_header(arena.substr(offset, h.name_size),
                         arena.substr(offset + h.name_size, h.value_size));
      offset += h.name_size + h.value_size;
    }
    scratch.set_partition(m.partition);
    fn(static_cast<const KafkaOutMessage&>(scratch));
  }
}

}  // namespace sluice::kafka
