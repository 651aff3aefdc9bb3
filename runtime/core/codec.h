// Codecs: the binary form of records that cross a process boundary or enter
// state. Built in for arithmetic types, bools, enums that declare their
// range (codec_enum_max, below), strings, pairs and tuples, vectors,
// optionals, maps, protobuf-like messages (SerializeToString/ParseFromArray),
// and plain structs that list their fields with SLUICE_FIELDS.
//
//   struct Bid {
//     int64_t auction; int64_t price; std::string url;
//     SLUICE_FIELDS(auction, price, url)
//   };
//
// Codec<T>::encode appends to a ByteWriter; Codec<T>::decode reads from a
// ByteReader and throws InputError on truncated or malformed bytes, so a bad
// peer or a corrupt file never crashes the process. Pure functions; callers
// own their writers and readers (one per thread).
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "runtime/core/errors.h"

namespace sluice {

// Appends bytes to a caller-owned string, reusing its capacity.
class ByteWriter {
 public:
  explicit ByteWriter(std::string& out) : out_(out) {}
  void write_bytes(const void* data, size_t n) { out_.append(static_cast<const char*>(data), n); }
  void write_varint(uint64_t v) {
    char buf[10];
    size_t n = 0;
    while (v >= 0x80) {
      buf[n++] = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    buf[n++] = static_cast<char>(v);
    out_.append(buf, n);
  }
  std::string& buffer() { return out_; }

 private:
  std::string& out_;
};

// Reads from a byte range; every read is bounds-checked.
class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  void read_bytes(void* out, size_t n) {
    require(n);
    std::memcpy(out, in_.data() + pos_, n);
    pos_ += n;
  }
  std::string_view read_view(size_t n) {
    require(n);
    std::string_view v = in_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  uint64_t read_varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      require(1);
      auto byte = static_cast<uint8_t>(in_[pos_++]);
      v |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return v;
    }
    throw InputError("codec: varint longer than 10 bytes");
  }
  size_t remaining() const { return in_.size() - pos_; }
  bool at_end() const { return pos_ == in_.size(); }

 private:
  void require(size_t n) const {
    if (in_.size() - pos_ < n) {
      throw InputError("codec: truncated input (needed " + std::to_string(n) + " bytes, " +
                       std::to_string(in_.size() - pos_) + " left)");
    }
  }
  std::string_view in_;
  size_t pos_ = 0;
};

template <class T, class Enable = void>
struct Codec;  // specialised below; a missing specialisation is a compile error

// Declares a struct's fields for its codec, in wire order.
#define SLUICE_FIELDS(...)        \
  auto sluice_fields() {          \
    return std::tie(__VA_ARGS__); \
  }                               \
  auto sluice_fields() const {    \
    return std::tie(__VA_ARGS__); \
  }

template <class T>
concept HasFields = requires(T t) {
  t.sluice_fields();
};

template <class T>
concept ProtobufLike = requires(T t, const T ct, std::string* s, const void* p, int n) {
  { ct.SerializeToString(s) } -> std::convertible_to<bool>;
  { t.ParseFromArray(p, n) } -> std::convertible_to<bool>;
};

template <class T>
struct Codec<T, std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, bool>>> {
  static void encode(const T& v, ByteWriter& w) { w.write_bytes(&v, sizeof(T)); }
  static T decode(ByteReader& r) {
    T v;
    r.read_bytes(&v, sizeof(T));
    return v;
  }
};

// One byte, 0 or 1: any other byte is corrupt input, never a bool.
template <>
struct Codec<bool> {
  static void encode(const bool& v, ByteWriter& w) {
    uint8_t byte = v ? 1 : 0;
    w.write_bytes(&byte, 1);
  }
  static bool decode(ByteReader& r) {
    uint8_t byte = Codec<uint8_t>::decode(r);
    if (byte > 1) throw InputError("codec: bad bool byte " + std::to_string(byte));
    return byte == 1;
  }
};

// An enum with a codec declares its largest value, found by argument-
// dependent lookup next to the enum:
//
//   enum class SplitState : uint8_t { kReading, kFinished };
//   constexpr SplitState codec_enum_max(SplitState) { return SplitState::kFinished; }
//
// Its values must run from 0 to that one. Decoding checks the range, so a
// corrupt byte never becomes a value the enum does not have.
template <class T>
concept CodecEnum = std::is_enum_v<T> && requires(T t) {
  { codec_enum_max(t) } -> std::same_as<T>;
};

template <CodecEnum T>
struct Codec<T> {
  using Underlying = std::underlying_type_t<T>;
  static void encode(const T& v, ByteWriter& w) {
    Codec<Underlying>::encode(static_cast<Underlying>(v), w);
  }
  static T decode(ByteReader& r) {
    Underlying raw = Codec<Underlying>::decode(r);
    bool negative = false;
    if constexpr (std::is_signed_v<Underlying>) negative = raw < 0;
    if (negative || raw > static_cast<Underlying>(codec_enum_max(T{}))) {
      throw InputError("codec: enum value " + std::to_string(raw) + " out of range");
    }
    return static_cast<T>(raw);
  }
};

template <>
struct Codec<std::string> {
  static void encode(const std::string& v, ByteWriter& w) {
    w.write_varint(v.size());
    w.write_bytes(v.data(), v.size());
  }
  static std::string decode(ByteReader& r) {
    size_t n = r.read_varint();
    return std::string(r.read_view(n));
  }
};

template <class A, class B>
struct Codec<std::pair<A, B>> {
  static void encode(const std::pair<A, B>& v, ByteWriter& w) {
    Codec<A>::encode(v.first, w);
    Codec<B>::encode(v.second, w);
  }
  static std::pair<A, B> decode(ByteReader& r) {
    A a = Codec<A>::decode(r);
    B b = Codec<B>::decode(r);
    return {std::move(a), std::move(b)};
  }
};

template <class... Ts>
struct Codec<std::tuple<Ts...>> {
  static void encode(const std::tuple<Ts...>& v, ByteWriter& w) {
    std::apply([&w](const auto&... f) { (Codec<std::decay_t<decltype(f)>>::encode(f, w), ...); },
               v);
  }
  static std::tuple<Ts...> decode(ByteReader& r) {
    // Braced initialisation evaluates left to right.
    return std::tuple<Ts...>{Codec<Ts>::decode(r)...};
  }
};

template <class T>
struct Codec<std::vector<T>> {
  static void encode(const std::vector<T>& v, ByteWriter& w) {
    w.write_varint(v.size());
    for (const T& e : v) Codec<T>::encode(e, w);
  }
  static std::vector<T> decode(ByteReader& r) {
    size_t n = r.read_varint();
    if (n > r.remaining()) throw InputError("codec: vector length exceeds input");
    std::vector<T> v;
    v.reserve(n);
    for (size_t i = 0; i < n; ++i) v.push_back(Codec<T>::decode(r));
    return v;
  }
};

template <class K, class V>
struct Codec<std::map<K, V>> {
  static void encode(const std::map<K, V>& m, ByteWriter& w) {
    w.write_varint(m.size());
    for (const auto& [k, v] : m) {
      Codec<K>::encode(k, w);
      Codec<V>::encode(v, w);
    }
  }
  static std::map<K, V> decode(ByteReader& r) {
    size_t n = r.read_varint();
    if (n > r.remaining()) throw InputError("codec: map size exceeds input");
    std::map<K, V> m;
    for (size_t i = 0; i < n; ++i) {
      K k = Codec<K>::decode(r);
      m.emplace(std::move(k), Codec<V>::decode(r));
    }
    return m;
  }
};

template <class T>
struct Codec<std::optional<T>> {
  static void encode(const std::optional<T>& v, ByteWriter& w) {
    uint8_t present = v.has_value() ? 1 : 0;
    w.write_bytes(&present, 1);
    if (v) Codec<T>::encode(*v, w);
  }
  static std::optional<T> decode(ByteReader& r) {
    uint8_t present = Codec<uint8_t>::decode(r);
    if (present > 1) throw InputError("codec: bad optional tag");
    if (!present) return std::nullopt;
    return Codec<T>::decode(r);
  }
};

template <class... Ts>
struct Codec<std::variant<Ts...>> {
  static void encode(const std::variant<Ts...>& v, ByteWriter& w) {
    auto index = static_cast<uint8_t>(v.index());
    w.write_bytes(&index, 1);
    std::visit([&w](const auto& alt) { Codec<std::decay_t<decltype(alt)>>::encode(alt, w); }, v);
  }
  static std::variant<Ts...> decode(ByteReader& r) {
    uint8_t index = Codec<uint8_t>::decode(r);
    if (index >= sizeof...(Ts)) throw InputError("codec: bad variant index");
    return decode_alternative(index, r, std::index_sequence_for<Ts...>{});
  }

 private:
  template <size_t... I>
  static std::variant<Ts...> decode_alternative(uint8_t index, ByteReader& r,
                                                std::index_sequence<I...>) {
    std::variant<Ts...> out;
    ((index == I ? (out.template emplace<I>(
                        Codec<std::variant_alternative_t<I, std::variant<Ts...>>>::decode(r)),
                    true)
                 : false) ||
     ...);
    return out;
  }
};

template <HasFields T>
struct Codec<T> {
  static void encode(const T& v, ByteWriter& w) {
    std::apply([&w](const auto&... f) { (Codec<std::decay_t<decltype(f)>>::encode(f, w), ...); },
               v.sluice_fields());
  }
  static T decode(ByteReader& r) {
    T v{};
    std::apply([&r](auto&... f) { ((f = Codec<std::decay_t<decltype(f)>>::decode(r)), ...); },
               v.sluice_fields());
    return v;
  }
};

template <ProtobufLike T>
requires(!HasFields<T>) struct Codec<T> {
  static void encode(const T& v, ByteWriter& w) {
    std::string bytes;
    v.SerializeToString(&bytes);
    Codec<std::string>::encode(bytes, w);
  }
  static T decode(ByteReader& r) {
    size_t n = r.read_varint();
    std::string_view bytes = r.read_view(n);
    T v;
    if (!v.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      throw InputError("codec: malformed protobuf message");
    }
    return v;
  }
};

// Whether T has a codec; operators that keep T in state require it.
template <class T>
concept Encodable = requires(const T& v, ByteWriter& w, ByteReader& r) {
  Codec<T>::encode(v, w);
  { Codec<T>::decode(r) } -> std::same_as<T>;
};

// Convenience: encodes one value into a fresh string.
template <Encodable T>
std::string encode_to_string(const T& v) {
  std::string out;
  ByteWriter w(out);
  Codec<T>::encode(v, w);
  return out;
}

// Convenience: decodes one value that must fill `bytes` exactly.
template <Encodable T>
T decode_from_string(std::string_view bytes) {
  ByteReader r(bytes);
  T v = Codec<T>::decode(r);
  if (!r.at_end()) throw InputError("codec: trailing bytes after value");
  return v;
}

}  // namespace sluice
