// The stored formats of checkpoints: metadata and batch logs as versioned
// protobuf messages, codec-encoded states behind a format version, and
// decoders that meet corrupt bytes with an InputError, never a crash or a
// misread.
#include "runtime/checkpoint/stored_formats.h"

#include <functional>

#include <gtest/gtest.h>

#include "runtime/checkpoint/checkpoint.pb.h"
#include "runtime/checkpoint/checksummed_file.h"
#include "runtime/core/errors.h"
#include "runtime/operator/source.h"
#include "state/snapshot.h"
#include "tests/process_runner.h"

namespace sluice {
namespace {

CheckpointMetadata sample_metadata() {
  CheckpointMetadata m;
  m.id = 7;
  m.job = "job";
  m.max_parallelism = 128;
  m.completed_at = 1234;
  SubtaskStateHandle s;
  s.subtask = 1;
  s.keyed_state = "op-1.keyed";
  s.operator_state = "op-1.op";
  s.shared_files = {"a.sst"};
  s.files = {"MANIFEST"};
  m.operators.push_back(OperatorStateHandle{"op", 2, {s}});
  return m;
}

// Every single-byte change and every truncation of `good` either decodes
// or throws InputError: nothing else escapes.
void expect_only_input_errors(const std::string& good,
                              const std::function<void(std::string_view)>& decode) {
  for (size_t i = 0; i < good.size(); ++i) {
    for (int flip : {0x01, 0x80, 0xff}) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ flip);
      try {
        decode(bad);
      } catch (const InputError&) {
      }
    }
  }
  for (size_t n = 0; n < good.size(); ++n) {
    try {
      decode(std::string_view(good).substr(0, n));
    } catch (const InputError&) {
    }
  }
}

TEST(StoredFormats, MetadataRoundTripsAndRefusesANewerFormat) {
  CheckpointMetadata m = sample_metadata();
  CheckpointMetadata back = decode_metadata(encode_metadata(m), "here");
  EXPECT_EQ(back.id, 7);
  EXPECT_EQ(back.operators.at(0).subtasks.at(0).shared_files, std::vector<std::string>{"a.sst"});
  stored::CheckpointMetadata newer;
  newer.ParseFromString(encode_metadata(m));
  newer.set_format_version(kMetadataFormatVersion + 1);
  try {
    decode_metadata(newer.SerializeAsString(), "chk-7/_metadata");
    ADD_FAILURE() << "a newer format was read";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("chk-7/_metadata: checkpoint metadata in format version " +
                                         std::to_string(kMetadataFormatVersion + 1)),
              std::string::npos)
        << e.what();
  }
}

// Format 2 records the job's key hashing; format 1 always meant the legacy
// hash, which a job restored from it must keep (its state sits in the key
// groups that hash chose).
TEST(StoredFormats, MetadataKeepsTheJobsKeyHashing) {
  CheckpointMetadata m = sample_metadata();
  m.key_hashing = KeyHashing::kLegacy;
  EXPECT_EQ(decode_metadata(encode_metadata(m), "here").key_hashing, KeyHashing::kLegacy);
  m.key_hashing = KeyHashing::kXxh3;
  EXPECT_EQ(decode_metadata(encode_metadata(m), "here").key_hashing, KeyHashing::kXxh3);
  stored::CheckpointMetadata v1;
  v1.ParseFromString(encode_metadata(m));
  v1.set_format_version(1);
  v1.clear_key_hashing();
  EXPECT_EQ(decode_metadata(v1.SerializeAsString(), "here").key_hashing, KeyHashing::kLegacy);
  stored::CheckpointMetadata unknown;
  unknown.ParseFromString(encode_metadata(m));
  unknown.set_key_hashing(9);
  EXPECT_THROW(decode_metadata(unknown.SerializeAsString(), "here"), InputError);
}

TEST(StoredFormats, MetadataDecodingOfCorruptBytesOnlyThrowsInputErrors) {
  expect_only_input_errors(encode_metadata(sample_metadata()),
                           [](std::string_view b) { decode_metadata(b, "f"); });
  // A subtask outside its operator's parallelism is refused.
  CheckpointMetadata m = sample_metadata();
  m.operators[0].subtasks[0].subtask = 2;
  EXPECT_THROW(decode_metadata(encode_metadata(m), "f"), InputError);
}

TEST(StoredFormats, BatchLogEntriesRoundTripAndRefuseDisorderedSlices) {
  BatchPlan plan;
  plan.id = 3;
  plan.sources.push_back(SourceSlices{"events", {SplitSlice{0, 10, 20, 30, false}}});
  BatchPlan back = decode_batch_plan(encode_batch_plan(plan), "f");
  EXPECT_EQ(back.sources.at(0).slices.at(0), plan.sources[0].slices[0]);
  plan.sources[0].slices[0].end = 40;  // past what is available
  EXPECT_THROW(decode_batch_plan(encode_batch_plan(plan), "f"), InputError);
  expect_only_input_errors(encode_batch_plan(back),
                           [](std::string_view b) { decode_batch_plan(b, "f"); });
  EXPECT_EQ(decode_batch_commit(encode_batch_commit(BatchCommit{4, 5}), "f").id, 4);
}

TEST(StoredFormats, StateDecodingOfCorruptBytesOnlyThrowsInputErrors) {
  KeyedSnapshot keyed;
  keyed.states.push_back(StateEntries{"count", "value", {StateEntry{"k", "n", "v"}}});
  keyed.rocks.emplace();
  keyed.rocks->last_group = 63;
  keyed.rocks->files.push_back(RocksFile{"1.sst", "x-1.sst", true});
  expect_only_input_errors(encode_versioned(KeyedSnapshot::kFormat, keyed), [](std::string_view b) {
    decode_versioned<KeyedSnapshot>(KeyedSnapshot::kFormat, b);
  });
  std::vector<SplitPosition> positions{{0, "a"}, {1, "bc"}};
  expect_only_input_errors(
      encode_versioned(kSourcePositionsFormat, positions), [](std::string_view b) {
        decode_versioned<std::vector<SplitPosition>>(kSourcePositionsFormat, b);
      });
}

// Files written before stored formats had versions are refused with a
// message that says so, not misread.
TEST(StoredFormats, AnUnversionedCheckpointFileIsRefusedClearly) {
  testing::TempDir dir;
  write_checksummed_file(dir.file("f"), "payload");
  std::string bytes = testing::read_file(dir.file("f"));
  bytes.replace(0, 8, "SLUICE01");
  testing::write_file(dir.file("old"), bytes);
  try {
    read_checksummed_file(dir.file("old"));
    ADD_FAILURE() << "an unversioned file was read";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("before its stored formats had versions"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace sluice
