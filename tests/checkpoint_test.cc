// Checkpoint storage: checksummed files, the directory layout, finding the
// latest intact checkpoint past corrupt or partial ones, and retention.
#include <filesystem>

#include <gtest/gtest.h>

#include "runtime/checkpoint/checksummed_file.h"
#include "runtime/checkpoint/storage.h"
#include "runtime/core/errors.h"
#include "tests/process_runner.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

TEST(ChecksummedFile, RoundTripsAndLeavesNoTemporary) {
  TempDir dir;
  std::string payload(10000, 'x');
  payload[17] = '\0';
  write_checksummed_file(dir.file("f"), payload);
  EXPECT_EQ(read_checksummed_file(dir.file("f")), payload);
  EXPECT_FALSE(fs::exists(dir.file("f.tmp")));
}

TEST(ChecksummedFile, DetectsEveryFlippedByteAndTruncation) {
  TempDir dir;
  write_checksummed_file(dir.file("f"), "some checkpoint payload");
  std::string good = testing::read_file(dir.file("f"));
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x40);
    testing::write_file(dir.file("bad"), bad);
    EXPECT_THROW(read_checksummed_file(dir.file("bad")), InputError) << "byte " << i;
  }
  for (size_t n = 0; n < good.size(); ++n) {
    testing::write_file(dir.file("short"), good.substr(0, n));
    EXPECT_THROW(read_checksummed_file(dir.file("short")), InputError) << "length " << n;
  }
  EXPECT_THROW(read_checksummed_file(dir.file("absent")), ExternalError);
}

// Writes checkpoint `id` with one operator whose subtask has a state file
// and, optionally, a shared file.
CheckpointMetadata write_checkpoint(const CheckpointStorage& storage, int64_t id,
                                    const std::string& shared = "") {
  storage.prepare(id);
  SubtaskStateHandle subtask;
  subtask.keyed_state =
      storage.write_state_file(id, "op-0.keyed", "state of " + std::to_string(id));
  if (!shared.empty()) {
    testing::write_file(storage.shared_dir() + "/" + shared, "sst");
    subtask.shared_files.push_back(shared);
  }
  CheckpointMetadata metadata;
  metadata.id = id;
  metadata.job = "job";
  metadata.max_parallelism = 128;
  metadata.operators.push_back(OperatorStateHandle{"op", 1, {subtask}});
  storage.complete(metadata);
  return metadata;
}

TEST(CheckpointStorage, LayoutAndLatest) {
  TempDir dir;
  CheckpointStorage storage(dir.path(), "job");
  write_checkpoint(storage, 1);
  write_checkpoint(storage, 2);
  storage.prepare(3);  // in progress: no metadata yet
  EXPECT_TRUE(fs::exists(dir.file("job/chk-2/_metadata")));
  EXPECT_TRUE(fs::exists(dir.file("job/chk-2/op-0.keyed")));
  EXPECT_EQ(storage.complete_ids(), (std::vector<int64_t>{1, 2}));
  std::vector<std::string> warnings;
  auto latest = storage.latest(warnings);
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->id, 2);
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(storage.read_state_file(storage.checkpoint_dir(2), "op-0.keyed"), "state of 2");
}

TEST(CheckpointStorage, CorruptOrPartialLatestFallsBackWithAWarning) {
  TempDir dir;
  CheckpointStorage storage(dir.path(), "job");
  write_checkpoint(storage, 1);
  write_checkpoint(storage, 2);
  write_checkpoint(storage, 3);
  // 3: a state file lost half its bytes; 2: its metadata is corrupt.
  std::string state = testing::read_file(dir.file("job/chk-3/op-0.keyed"));
  testing::write_file(dir.file("job/chk-3/op-0.keyed"), state.substr(0, state.size() / 2));
  std::string meta = testing::read_file(dir.file("job/chk-2/_metadata"));
  meta[meta.size() / 2] ^= 1;
  testing::write_file(dir.file("job/chk-2/_metadata"), meta);

  std::vector<std::string> warnings;
  auto latest = storage.latest(warnings);
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->id, 1);
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("skipping checkpoint 3"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("truncated"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[1].find("skipping checkpoint 2"), std::string::npos) << warnings[1];
  EXPECT_NE(warnings[1].find("checksum"), std::string::npos) << warnings[1];
}

TEST(CheckpointStorage, MissingSharedFileMakesACheckpointUnusable) {
  TempDir dir;
  CheckpointStorage storage(dir.path(), "job");
  write_checkpoint(storage, 1, "a.sst");
  write_checkpoint(storage, 2, "b.sst");
  fs::remove(dir.file("job/shared/b.sst"));
  std::vector<std::string> warnings;
  EXPECT_EQ(storage.latest(warnings)->id, 1);
  EXPECT_NE(warnings.at(0).find("b.sst is missing"), std::string::npos);
}

TEST(CheckpointStorage, RetentionKeepsTheNewestAndTheirSharedFiles) {
  TempDir dir;
  CheckpointStorage storage(dir.path(), "job");
  write_checkpoint(storage, 1, "one.sst");
  write_checkpoint(storage, 2, "two.sst");
  write_checkpoint(storage, 3, "two.sst");  // shares two.sst with 2
  write_checkpoint(storage, 4, "four.sst");
  storage.prepare(0);  // an abandoned, older attempt
  storage.retain(2);
  EXPECT_EQ(storage.complete_ids(), (std::vector<int64_t>{3, 4}));
  EXPECT_FALSE(fs::exists(dir.file("job/chk-0")));
  EXPECT_FALSE(fs::exists(dir.file("job/shared/one.sst")));
  EXPECT_TRUE(fs::exists(dir.file("job/shared/two.sst")));
  EXPECT_TRUE(fs::exists(dir.file("job/shared/four.sst")));
  std::vector<std::string> warnings;
  EXPECT_EQ(storage.latest(warnings)->id, 4);
  storage.retain(1);
  EXPECT_FALSE(fs::exists(dir.file("job/shared/two.sst")));
}

// Retention reads only metadata: a kept checkpoint with a damaged state
// file still protects the shared files it references (restore would skip
// it, and the checkpoint before it needs them too).
TEST(CheckpointStorage, RetentionReadsOnlyMetadata) {
  TempDir dir;
  CheckpointStorage storage(dir.path(), "job");
  write_checkpoint(storage, 1, "one.sst");
  write_checkpoint(storage, 2, "two.sst");
  testing::write_file(dir.file("job/chk-2/op-0.keyed"), "damaged");
  RetentionReport report = storage.retain(1);
  EXPECT_TRUE(report.unreadable.empty());
  EXPECT_TRUE(fs::exists(dir.file("job/shared/two.sst"))) << "a kept checkpoint lost its file";
  EXPECT_FALSE(fs::exists(dir.file("job/shared/one.sst")));
  EXPECT_EQ(report.checkpoints_deleted, 1u);
}

// A kept checkpoint whose metadata cannot be read might reference any
// shared file: none is deleted, and the readable checkpoint before it is
// kept as well, so that a restore has something to fall back on.
TEST(CheckpointStorage, AnUnreadableKeptCheckpointKeepsEverySharedFile) {
  TempDir dir;
  CheckpointStorage storage(dir.path(), "job");
  write_checkpoint(storage, 1, "one.sst");
  write_checkpoint(storage, 2, "two.sst");
  write_checkpoint(storage, 3, "three.sst");
  std::string meta = testing::read_file(dir.file("job/chk-3/_metadata"));
  meta[meta.size() / 2] ^= 1;
  testing::write_file(dir.file("job/chk-3/_metadata"), meta);
  RetentionReport report = storage.retain(1);
  ASSERT_EQ(report.unreadable.size(), 1u);
  EXPECT_NE(report.unreadable[0].find("checkpoint 3"), std::string::npos) << report.unreadable[0];
  EXPECT_EQ(storage.complete_ids(), (std::vector<int64_t>{2, 3}));
  for (const char* file : {"one.sst", "two.sst", "three.sst"}) {
    EXPECT_TRUE(fs::exists(dir.file(std::string("job/shared/") + file))) << file;
  }
  EXPECT_EQ(report.shared_files_deleted, 0u);
}

// A checkpoint newer than the newest complete one may be in progress: its
// directory stays.
TEST(CheckpointStorage, RetentionLeavesCheckpointsInProgress) {
  TempDir dir;
  CheckpointStorage storage(dir.path(), "job");
  write_checkpoint(storage, 1);
  storage.prepare(2);
  storage.retain(1);
  EXPECT_TRUE(fs::exists(dir.file("job/chk-2")));
}

}  // namespace
}  // namespace sluice
