// The shape of a codec type as text, so that stored state can say what it
// holds and a restore can tell a changed type from an unchanged one:
// "i64", "u8", "f64", "bool", "str", "[T]" (vector), "T?" (optional),
// "{K:V}" (map), "(A,B)" (pair, tuple), "<A|B>" (variant), "S(A,B)" (a
// struct with SLUICE_FIELDS, its fields' shapes in order), "e:U" (an enum
// over U), "pb:NAME" (a protobuf message). Names of fields and structs are
// not part of it: renaming is free, reordering or retyping is a change.
//
// Schema evolution of structs: stored values of "S(A,B)" decode as
// "S(A,B,C)" with C's default (decode_leading_fields), since SLUICE_FIELDS
// encodes fields one after the other with nothing between.
//
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "runtime/core/codec.h"

namespace sluice {

template <class T>
std::string codec_signature();

namespace signature_detail {

template <class Tuple>
struct FieldShapes;

template <class T>
struct Shape {
  static std::string text() {
    if constexpr (std::is_same_v<T, bool>) {
      return "bool";
    } else if constexpr (std::is_enum_v<T>) {
      return "e:" + codec_signature<std::underlying_type_t<T>>();
    } else if constexpr (std::is_floating_point_v<T>) {
      return "f" + std::to_string(sizeof(T) * 8);
    } else if constexpr (std::is_integral_v<T>) {
      return (std::is_signed_v<T> ? "i" : "u") + std::to_string(sizeof(T) * 8);
    } else if constexpr (HasFields<T>) {
      return "S(" + FieldShapes<decltype(std::declval<T&>().sluice_fields())>::text() + ")";
    } else if constexpr (ProtobufLike<T>) {
      return "pb:" + T().GetTypeName();
    } else {
      static_assert(!sizeof(T), "no codec signature for this type");
    }
  }
};

template <>
struct FieldShapes<std::tuple<>> {
  static std::string text() { return ""; }
};
template <class... Fields>
struct FieldShapes<std::tuple<Fields...>> {
  static std::string text() {
    std::string out;
    ((out += (out.empty() ? "" : ",") + codec_signature<std::decay_t<Fields>>()), ...);
    return out;
  }
};

template <>
struct Shape<std::string> {
  static std::string text() { return "str"; }
};
template <class T>
struct Shape<std::vector<T>> {
  static std::string text() { return "[" + codec_signature<T>() + "]"; }
};
template <class T>
struct Shape<std::optional<T>> {
  static std::string text() { return codec_signature<T>() + "?"; }
};
template <class K, class V>
struct Shape<std::map<K, V>> {
  static std::string text() {
    return "{" + codec_signature<K>() + ":" + codec_signature<V>() + "}";
  }
};
template <class A, class B>
struct Shape<std::pair<A, B>> {
  static std::string text() {
    return "(" + codec_signature<A>() + "," + codec_signature<B>() + ")";
  }
};
template <class... Ts>
struct Shape<std::tuple<Ts...>> {
  static std::string text() {
    std::string out;
    ((out += (out.empty() ? "" : ",") + codec_signature<Ts>()), ...);
    return "(" + out + ")";
  }
};
template <class... Ts>
struct Shape<std::variant<Ts...>> {
  static std::string text() {
    std::string out;
    ((out += (out.empty() ? "" : "|") + codec_signature<Ts>()), ...);
    return "<" + out + ">";
  }
};

}  // namespace signature_detail

template <class T>
std::string codec_signature() {
  return signature_detail::Shape<T>::text();
}

// When `stored` is the signature of a struct whose fields are the leading
// fields of `current`'s (a struct that gained fields at its end): how many
// fields the stored values hold. Otherwise nullopt.
std::optional<size_t> leading_fields_of(std::string_view stored, std::string_view current);

// A struct from bytes holding only its first `present` fields (an older
// layout of it); the others keep their default values. Throws InputError
// on malformed bytes, as Codec<T>::decode does.
template <HasFields T>
T decode_leading_fields(ByteReader& reader, size_t present) {
  T value{};
  size_t index = 0;
  std::apply(
      [&](auto&... fields) {
        ((index++ < present ? (void)(fields = Codec<std::decay_t<decltype(fields)>>::decode(reader))
                            : (void)0),
         ...);
      },
      value.sluice_fields());
  return value;
}

}  // namespace sluice
