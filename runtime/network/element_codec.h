// Element codec: the wire form of the stream elements of a remote channel,
// and the typed ElementEncoder / ElementDecoder the data plane drives
// (runtime/network/remote_channels.h, runtime/cluster/data_plane.h).
//
// Wire form of one element (integers in the codecs' byte order, i.e.
// little-endian on every supported platform):
//
//   u8 kind                  ElementKind
//   kBatch:     u32 count, then `count` records, each
//                 value      Codec<T>
//                 timestamp  zigzag varint of the difference to the previous
//                            record's timestamp (the first: to 0)
//   kWatermark: i64 watermark
//   kBarrier, kBarrierMark: i64 checkpoint id, u8 CheckpointKind
//   kIdle, kActive, kEnd, kEndOfData: nothing more
//
// A batch larger than kMaxWireBatchRecords records or kWireBatchSplitBytes
// bytes goes out as several consecutive batch elements, so a frame stays
// well below kMaxDataFrameBytes; the consumer sees the same records in the
// same order. Decoding checks every length against the bytes that are there
// and throws InputError on anything malformed (unknown kind, a count that
// is too large or does not fit, truncation, trailing bytes), so a bad peer
// costs its connection, never the process.
//
// Threading: encoders and decoders run on the data plane's threads; the
// free functions are pure.
#pragma once

#include <cxxabi.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "runtime/core/codec.h"
#include "runtime/core/errors.h"
#include "runtime/network/channel.h"
#include "runtime/network/remote_channels.h"

namespace sluice {

// Decoders refuse batches above this many records; encoders split before.
inline constexpr size_t kMaxWireBatchRecords = kMaxBatchRecords * 16;
// An encoder ends a batch element once its encoding passes this size.
inline constexpr size_t kWireBatchSplitBytes = 4u << 20;

namespace element_codec_detail {

// Encodable<T> looks only at the declaration of Codec<T>; the containers'
// codecs are declared for any element type, so a pair of a type without a
// codec still looks Encodable until its encode() is instantiated. This
// trait looks through containers and SLUICE_FIELDS structs, so that types
// without codecs keep compiling for local runs.
template <class T>
struct WireEncodable : std::bool_constant<Encodable<T>> {};

template <class Tuple>
struct AllWireEncodable;
template <class... Fs>
struct AllWireEncodable<std::tuple<Fs...>>
    : std::bool_constant<(WireEncodable<std::decay_t<Fs>>::value && ...)> {};

template <HasFields T>
struct WireEncodable<T>
    : std::bool_constant<
          Encodable<T> &&
          AllWireEncodable<decltype(std::declval<const T&>().sluice_fields())>::value> {};
template <class A, class B>
struct WireEncodable<std::pair<A, B>>
    : std::bool_constant<WireEncodable<A>::value && WireEncodable<B>::value> {};
template <class... Ts>
struct WireEncodable<std::tuple<Ts...>> : std::bool_constant<(WireEncodable<Ts>::value && ...)> {};
template <class... Ts>
struct WireEncodable<std::variant<Ts...>> : std::bool_constant<(WireEncodable<Ts>::value && ...)> {
};
template <class T>
struct WireEncodable<std::vector<T>> : WireEncodable<T> {};
template <class T>
struct WireEncodable<std::optional<T>> : WireEncodable<T> {};
template <class K, class V>
struct WireEncodable<std::map<K, V>>
    : std::bool_constant<WireEncodable<K>::value && WireEncodable<V>::value> {};

inline uint64_t zigzag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t unzigzag(uint64_t v) {
  return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
}

inline std::string demangle(const char* name) {
  int status = 0;
  char* readable = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string out = status == 0 && readable != nullptr ? readable : name;
  std::free(readable);
  return out;
}

}  // namespace element_codec_detail

// Whether records of type T can cross processes (T and everything in it has
// a codec).
template <class T>
concept WireEncodable = element_codec_detail::WireEncodable<T>::value;

// The error for an edge whose record type has no codec.
template <class T>
UsageError no_wire_codec_error() {
  return UsageError(fmt::format(
      "the stream's record type {} has no codec, so it cannot cross processes: give it a "
      "Codec<T> (for example SLUICE_FIELDS) or keep its edges within one task manager",
      element_codec_detail::demangle(typeid(T).name())));
}

// Appends records [first, end) of `batch` as one batch element, stopping
// early at kMaxWireBatchRecords records or once kWireBatchSplitBytes bytes
// are written. Returns the index of the first record not written.
template <WireEncodable T>
size_t encode_batch_element(const Batch<T>& batch, size_t first, std::string& out) {
  size_t start = out.size();
  ByteWriter w(out);
  auto kind = static_cast<uint8_t>(ElementKind::kBatch);
  w.write_bytes(&kind, 1);
  size_t count_at = out.size();
  uint32_t count = 0;
  w.write_bytes(&count, sizeof count);  // patched below
  Timestamp previous = 0;
  size_t i = first;
  for (; i < batch.size() && count < kMaxWireBatchRecords; ++i, ++count) {
    if (count > 0 && out.size() - start >= kWireBatchSplitBytes) break;
    const Record<T>& r = batch[i];
    Codec<T>::encode(r.value, w);
    // Unsigned subtraction wraps instead of overflowing.
    w.write_varint(element_codec_detail::zigzag(static_cast<int64_t>(
        static_cast<uint64_t>(r.timestamp) - static_cast<uint64_t>(previous))));
    previous = r.timestamp;
  }
  std::memcpy(out.data() + count_at, &count, sizeof count);
  return i;
}

// Appends one element whole; batches over the limits are the caller's to
// split (see ChannelElementEncoder).
template <WireEncodable T>
void encode_element(const Element<T>& element, std::string& out) {
  if (element.kind == ElementKind::kBatch) {
    encode_batch_element(element.batch, 0, out);
    return;
  }
  ByteWriter w(out);
  auto kind = static_cast<uint8_t>(element.kind);
  w.write_bytes(&kind, 1);
  if (element.kind == ElementKind::kWatermark) Codec<int64_t>::encode(element.watermark, w);
  if (element.kind == ElementKind::kBarrier || element.kind == ElementKind::kBarrierMark) {
    Codec<int64_t>::encode(element.checkpoint, w);
    Codec<uint8_t>::encode(static_cast<uint8_t>(element.checkpoint_kind), w);
  }
}

// Decodes exactly one element that fills `bytes`; throws InputError.
template <WireEncodable T>
Element<T> decode_element(std::string_view bytes) {
  ByteReader r(bytes);
  Element<T> element;
  uint8_t kind = Codec<uint8_t>::decode(r);
  if (kind > static_cast<uint8_t>(ElementKind::kBarrierMark)) {
    throw InputError(fmt::format("element: unknown kind {}", kind));
  }
  element.kind = static_cast<ElementKind>(kind);
  switch (element.kind) {
    case ElementKind::kBatch: {
      uint32_t count = Codec<uint32_t>::decode(r);
      // Every record takes at least its timestamp's byte.
      if (count > kMaxWireBatchRecords || count > r.remaining()) {
        throw InputError(fmt::format("element: batch of {} records does not fit ({} bytes left)",
                                     count, r.remaining()));
      }
      element.batch.reserve(count);
      Timestamp previous = 0;
      for (uint32_t i = 0; i < count; ++i) {
        T value = Codec<T>::decode(r);
        Timestamp ts = static_cast<Timestamp>(
            static_cast<uint64_t>(previous) +
            static_cast<uint64_t>(element_codec_detail::unzigzag(r.read_varint())));
        element.batch.push_back(Record<T>{std::move(value), ts});
        previous = ts;
      }
      break;
    }
    case ElementKind::kWatermark:
      element.watermark = Codec<int64_t>::decode(r);
      break;
    case ElementKind::kBarrier:
    case ElementKind::kBarrierMark: {
      element.checkpoint = Codec<int64_t>::decode(r);
      uint8_t checkpoint_kind = Codec<uint8_t>::decode(r);
      if (checkpoint_kind > kLastCheckpointKind) {
        throw InputError(fmt::format("element: unknown checkpoint kind {}", checkpoint_kind));
      }
      element.checkpoint_kind = static_cast<CheckpointKind>(checkpoint_kind);
      break;
    }
    default:
      break;
  }
  if (!r.at_end()) {
    throw InputError(fmt::format("element: {} trailing bytes", r.remaining()));
  }
  return element;
}

// In-flight data of an unaligned checkpoint (runtime/network/reader.h and
// writers.h): appends `element` in wire form, each frame-sized part
// prefixed by its u32 length. Barriers, marks and ends are not data (a
// restored producer sends its own) and append nothing.
template <WireEncodable T>
void append_recorded_element(const Element<T>& element, std::string& out) {
  if (element.kind == ElementKind::kBarrier || element.kind == ElementKind::kBarrierMark ||
      element.kind == ElementKind::kEnd || element.kind == ElementKind::kEndOfData) {
    return;
  }
  size_t next = 0;
  do {
    size_t at = out.size();
    uint32_t size = 0;
    out.append(sizeof size, '\0');
    if (element.kind == ElementKind::kBatch) {
      next = encode_batch_element(element.batch, next, out);
    } else {
      encode_element(element, out);
    }
    size = static_cast<uint32_t>(out.size() - at - sizeof size);
    std::memcpy(out.data() + at, &size, sizeof size);
  } while (element.kind == ElementKind::kBatch && next < element.batch.size());
}

// Decodes what append_recorded_element() appended, in order, into `out`;
// throws InputError on malformed bytes.
template <WireEncodable T, class Out>
void decode_recorded_elements(std::string_view recorded, Out& out) {
  ByteReader r(recorded);
  while (!r.at_end()) {
    uint32_t size = Codec<uint32_t>::decode(r);
    out.push_back(decode_element<T>(r.read_view(size)));
  }
}

// Drains an outbound Channel<T>: one encode_next() call pops one element,
// or continues a batch that was too large for one frame.
template <WireEncodable T>
class ChannelElementEncoder final : public ElementEncoder {
 public:
  explicit ChannelElementEncoder(Channel<T>* channel) : channel_(channel) {}

  Encoded encode_next(std::string& out, bool barrier_only) override {
    if (!holding_) {
      bool got = barrier_only ? channel_->try_pop_barrier(current_) : channel_->try_pop(current_);
      if (!got) return Encoded::kNothing;
      holding_ = true;
      next_record_ = 0;
    } else if (barrier_only) {
      return Encoded::kNothing;  // the rest of a batch goes first
    }
    if (current_.kind != ElementKind::kBatch) {
      encode_element(current_, out);
      holding_ = false;
      return current_.kind == ElementKind::kBarrier ? Encoded::kBarrier : Encoded::kElement;
    }
    next_record_ = encode_batch_element(current_.batch, next_record_, out);
    if (next_record_ >= current_.batch.size()) {
      holding_ = false;
      current_.batch.clear();
    }
    return Encoded::kElement;
  }
  bool barrier_next() override { return !holding_ && channel_->barrier_next(); }

 private:
  Channel<T>* channel_;
  Element<T> current_;
  bool holding_ = false;  // current_ has records left to send
  size_t next_record_ = 0;
};

// Fills an inbound Channel<T>; never waits (see Channel::push_credited).
template <WireEncodable T>
class ChannelElementDecoder final : public ElementDecoder {
 public:
  explicit ChannelElementDecoder(Channel<T>* channel) : channel_(channel) {}

  void decode_into_channel(std::string_view bytes) override {
    channel_->push_credited(decode_element<T>(bytes));
  }

 private:
  Channel<T>* channel_;
};

}  // namespace sluice
