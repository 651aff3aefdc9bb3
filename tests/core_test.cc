// Unit tests of runtime/core: durations, codecs, hashing.
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/core/codec.h"
#include "runtime/core/hash.h"
#include "runtime/core/key_hasher.h"
#include "runtime/core/time.h"
#include "runtime/core/versioned.h"

namespace sluice {
namespace {

TEST(Duration, ParsesUnits) {
  EXPECT_EQ(parse_duration("250ms"), 250);
  EXPECT_EQ(parse_duration("5s"), 5000);
  EXPECT_EQ(parse_duration("2m"), 120000);
  EXPECT_EQ(parse_duration("1h"), 3600000);
  EXPECT_EQ(parse_duration("42"), 42);
  EXPECT_EQ(parse_duration("0"), 0);
}

TEST(Duration, RejectsGarbage) {
  EXPECT_FALSE(parse_duration(""));
  EXPECT_FALSE(parse_duration("s"));
  EXPECT_FALSE(parse_duration("-5s"));
  EXPECT_FALSE(parse_duration("5x"));
  EXPECT_FALSE(parse_duration("5 s"));
  EXPECT_FALSE(parse_duration("99999999999999999999h"));
}

TEST(Duration, FormatsRoundTrip) {
  for (DurationMs ms : {0L, 1L, 1500L, 5000L, 120000L}) {
    EXPECT_EQ(parse_duration(format_duration(ms)), ms);
  }
}

TEST(Timestamp, FormatsUtc) {
  EXPECT_EQ(format_timestamp(1767225600000), "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(format_timestamp(1767225605123), "2026-01-01T00:00:05.123Z");
  EXPECT_EQ(format_timestamp(kMinTimestamp), "-inf");
  EXPECT_EQ(format_timestamp(kMaxTimestamp), "+inf");
}

struct Inner {
  int32_t a = 0;
  std::string b;
  SLUICE_FIELDS(a, b)
  friend bool operator==(const Inner&, const Inner&) = default;
};

struct Outer {
  int64_t id = 0;
  double score = 0;
  std::vector<Inner> items;
  std::optional<std::string> note;
  std::map<std::string, int64_t> counts;
  std::pair<int, std::string> pair;
  std::tuple<int8_t, uint64_t, bool> tuple;
  SLUICE_FIELDS(id, score, items, note, counts, pair, tuple)
  friend bool operator==(const Outer&, const Outer&) = default;
};

TEST(Codec, RoundTripsNestedStructs) {
  Outer v;
  v.id = -7;
  v.score = 2.5;
  v.items = {{1, "x"}, {2, std::string(300, 'y')}};
  v.note = "hello";
  v.counts = {{"a", 1}, {"b", -2}};
  v.pair = {3, "three"};
  v.tuple = {-1, 1ULL << 63, true};
  EXPECT_EQ(decode_from_string<Outer>(encode_to_string(v)), v);
  Outer empty;
  EXPECT_EQ(decode_from_string<Outer>(encode_to_string(empty)), empty);
}

TEST(Codec, RoundTripsVariants) {
  using V = std::variant<int32_t, std::string, Inner>;
  for (const V& v : {V{int32_t{7}}, V{std::string("text")}, V{Inner{3, "inner"}}}) {
    EXPECT_EQ(decode_from_string<V>(encode_to_string(v)), v);
  }
  std::string bad = encode_to_string(V{int32_t{1}});
  bad[0] = 3;  // no such alternative
  EXPECT_THROW(decode_from_string<V>(bad), InputError);
}

TEST(Codec, TruncatedInputThrowsInputError) {
  Outer v;
  v.items = {{1, "abcdef"}};
  std::string bytes = encode_to_string(v);
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_THROW(decode_from_string<Outer>(bytes.substr(0, n)), InputError) << n;
  }
}

TEST(Codec, HugeLengthPrefixIsRejectedWithoutAllocating) {
  std::string bytes;
  ByteWriter w(bytes);
  w.write_varint(1ULL << 60);
  EXPECT_THROW(decode_from_string<std::vector<int64_t>>(bytes), InputError);
  EXPECT_THROW(decode_from_string<std::string>(bytes), InputError);
}

TEST(Codec, TrailingBytesAreAnError) {
  std::string bytes = encode_to_string<int32_t>(5) + "x";
  EXPECT_THROW(decode_from_string<int32_t>(bytes), InputError);
}

enum class Colour : uint8_t { kRed, kGreen, kBlue };
constexpr Colour codec_enum_max(Colour) {
  return Colour::kBlue;
}

// Bools and enums from untrusted bytes: a byte that is no value of the type
// is corrupt input (an InputError), never undefined behaviour.
TEST(Codec, BoolsAndEnumsRejectBytesOutsideTheirRange) {
  EXPECT_EQ(decode_from_string<bool>(encode_to_string(true)), true);
  EXPECT_EQ(decode_from_string<Colour>(encode_to_string(Colour::kBlue)), Colour::kBlue);
  for (int byte = 2; byte < 256; ++byte) {
    EXPECT_THROW(decode_from_string<bool>(std::string(1, static_cast<char>(byte))), InputError);
  }
  for (int byte = 3; byte < 256; ++byte) {
    EXPECT_THROW(decode_from_string<Colour>(std::string(1, static_cast<char>(byte))), InputError);
  }
  EXPECT_THROW((decode_from_string<std::optional<bool>>(std::string("\x01\x07", 2))), InputError);
}

// A format evolves by its version: version 2 of a record adds a field; a
// reader of version 2 still reads version 1 (the new field at its default),
// and a reader of version 1 refuses version 2 with an error naming the
// format instead of misreading it.
struct RecordV1 {
  static constexpr PersistedFormat kFormat{"test record", 1};
  std::string name;
  SLUICE_FIELDS(name)
};
struct RecordV2 {
  static constexpr PersistedFormat kFormat{"test record", 2};
  std::string name;
  int64_t count = 7;
  SLUICE_FIELDS(name, count)

  static RecordV2 decode(std::string_view bytes) {
    ByteReader reader(bytes);
    if (read_version(reader, kFormat) == 1) return RecordV2{Codec<RecordV1>::decode(reader).name};
    return Codec<RecordV2>::decode(reader);
  }
};

TEST(Versioned, AFormatReadsItsOlderVersionsAndRefusesNewerOnes) {
  std::string v1 = encode_versioned(RecordV1::kFormat, RecordV1{"old"});
  RecordV2 upgraded = RecordV2::decode(v1);
  EXPECT_EQ(upgraded.name, "old");
  EXPECT_EQ(upgraded.count, 7);
  std::string v2 = encode_versioned(RecordV2::kFormat, RecordV2{"new", 3});
  EXPECT_EQ(RecordV2::decode(v2).count, 3);
  try {
    decode_versioned<RecordV1>(RecordV1::kFormat, v2);
    ADD_FAILURE() << "a version 1 reader read version 2";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()),
              "test record: format version 2 is not readable here (this Sluice reads 1 to 1)");
  }
  EXPECT_THROW(decode_versioned<RecordV1>(RecordV1::kFormat, std::string(1, '\0')), InputError);
}

TEST(Hash, IsStableAcrossRuns) {
  // Key groups depend on these values; they must never change.
  EXPECT_EQ(hash_bytes(""), hash_bytes(""));
  EXPECT_NE(hash_bytes("a"), hash_bytes("b"));
  EXPECT_NE(hash_bytes("abcdefgh1"), hash_bytes("abcdefgh2"));
  // Pinned values: if these change, checkpoints no longer match their keys.
  // XXH3 of the empty input is xxHash's own published test value.
  EXPECT_EQ(hash_bytes(""), 0x2d06800538d394c2ULL);
  EXPECT_EQ(hash_bytes("sluice"), 9084615177324226845ULL);
  EXPECT_EQ(hash_bytes(encode_to_string<int64_t>(42)), 15395265915043915720ULL);
  EXPECT_EQ(hash_bytes("abcdefghijklmnopqrstuvwxyz0123456789"), 1257616222406239804ULL);
  // The hash of checkpoint format 1, which restored jobs of that format
  // keep using for their key groups.
  EXPECT_EQ(legacy_hash_bytes("sluice"), 4237341499672451779ULL);
  EXPECT_EQ(legacy_hash_bytes(encode_to_string<int64_t>(42)), 3777239963445301114ULL);
}

TEST(Hash, KeyHasherPicksKeyGroupsWithTheJobsHashing) {
  KeyHasher<std::string> current;
  KeyHasher<std::string> legacy(KeyHashing::kLegacy);
  uint64_t hash = current.hash("user-7");
  EXPECT_EQ(hash, hash_bytes(encode_to_string<std::string>("user-7")));
  EXPECT_EQ(current.group_hash(hash), hash);
  // A legacy job looks state up by the same hash, but groups keys as
  // format 1 did.
  EXPECT_EQ(legacy.hash("user-7"), hash);
  EXPECT_EQ(legacy.group_hash(hash), legacy_hash_bytes(encode_to_string<std::string>("user-7")));
}

TEST(Hash, SpreadsKeysOverBuckets) {
  std::vector<int> buckets(128, 0);
  for (int i = 0; i < 128000; ++i) {
    ++buckets[hash_bytes(encode_to_string<int64_t>(i)) % 128];
  }
  for (int count : buckets) {
    EXPECT_GT(count, 800);
    EXPECT_LT(count, 1200);
  }
}

}  // namespace
}  // namespace sluice
