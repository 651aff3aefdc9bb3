// The file sink in two-phase mode (with checkpoints): output becomes
// visible only when its checkpoint completes; after a crash, a restore
// commits what the restored checkpoint prepared, exactly once, and discards
// the rest.
#include <cerrno>
#include <filesystem>

#include <gtest/gtest.h>

#include "connectors/file_sink.h"
#include "runtime/core/errors.h"
#include "runtime/core/fault_injection.h"
#include "tests/process_runner.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
using testing::committed_lines;
using testing::TempDir;

auto format_int = [](const int64_t& v, std::string& out) { out += std::to_string(v); };
using Writer = FileSinkWriter<int64_t, decltype(format_int)>;

std::unique_ptr<Writer> open_writer(const std::string& dir, int subtask = 0, int parallelism = 1) {
  FileSinkOptions options;
  options.directory = dir;
  auto writer = std::make_unique<Writer>(options, format_int);
  SinkContext context;
  context.subtask = subtask;
  context.parallelism = parallelism;
  context.checkpointing = true;
  writer->open(context);
  return writer;
}

void write(Writer& w, std::vector<int64_t> values) {
  Batch<int64_t> batch;
  for (int64_t v : values) batch.push_back({v, 0});
  w.write(batch);
}

std::vector<std::string> lines(std::vector<int64_t> values) {
  std::vector<std::string> out;
  for (int64_t v : values) out.push_back(std::to_string(v));
  std::sort(out.begin(), out.end());
  return out;
}

size_t hidden_files(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.path().filename().string()[0] == '.';
  return n;
}

TEST(TwoPhaseFileSink, VisibleOnlyOnceItsCheckpointCompletes) {
  TempDir dir;
  auto w = open_writer(dir.path());
  write(*w, {1, 2});
  w->prepare_commit(1);
  write(*w, {3});
  EXPECT_TRUE(committed_lines(dir.path()).empty());
  w->commit(1);
  EXPECT_EQ(committed_lines(dir.path()), lines({1, 2}));
  w->prepare_commit(2);
  w->commit(2);
  w->commit(2);  // again: nothing changes
  EXPECT_EQ(committed_lines(dir.path()), lines({1, 2, 3}));
  write(*w, {4});
  w->finish();  // end of input: staged, published only by the final checkpoint
  EXPECT_EQ(committed_lines(dir.path()), lines({1, 2, 3}));
  w->prepare_commit(3);
  EXPECT_EQ(committed_lines(dir.path()), lines({1, 2, 3}));
  w->commit(3);
  EXPECT_EQ(committed_lines(dir.path()), lines({1, 2, 3, 4}));
  EXPECT_EQ(hidden_files(dir.path()), 0u);
}

TEST(TwoPhaseFileSink, RecoveryCommitsTheRestoredCheckpointAndDiscardsTheRest) {
  TempDir dir;
  std::string prepared_2;
  {
    // A run that crashes after checkpoint 2 completed but before its
    // commit, with checkpoint 3 prepared and never completed.
    auto crashed = open_writer(dir.path());
    write(*crashed, {1});
    crashed->prepare_commit(1);
    crashed->commit(1);
    write(*crashed, {2});
    prepared_2 = crashed->prepare_commit(2);
    write(*crashed, {3});
    crashed->prepare_commit(3);
    write(*crashed, {4});  // in progress
    crashed->close();
  }
  EXPECT_EQ(committed_lines(dir.path()), lines({1}));
  EXPECT_EQ(hidden_files(dir.path()), 3u);

  // Restored from checkpoint 2 at parallelism 2; both subtasks see it.
  auto a = open_writer(dir.path(), 0, 2);
  auto b = open_writer(dir.path(), 1, 2);
  b->recover({prepared_2});
  a->recover({prepared_2});
  EXPECT_EQ(committed_lines(dir.path()), lines({1, 2}));
  EXPECT_EQ(hidden_files(dir.path()), 0u);
  // Recovering again (another crash right after) commits nothing twice.
  open_writer(dir.path(), 0, 1)->recover({prepared_2});
  EXPECT_EQ(committed_lines(dir.path()), lines({1, 2}));
}

// Checkpoint 1 was aborted, 2 completed, and the job crashed before
// committing 2: the restore commits the parts of both.
TEST(TwoPhaseFileSink, RecoveryCommitsThePartsOfAnAbortedCheckpointToo) {
  TempDir dir;
  std::string prepared_2;
  {
    auto crashed = open_writer(dir.path());
    write(*crashed, {1});
    crashed->prepare_commit(1);  // aborted: never committed
    write(*crashed, {2});
    prepared_2 = crashed->prepare_commit(2);
    crashed->close();
  }
  open_writer(dir.path())->recover({prepared_2});
  EXPECT_EQ(committed_lines(dir.path()), lines({1, 2}));
  EXPECT_EQ(hidden_files(dir.path()), 0u);
}

// The newest checkpoint (3) was committed, then found corrupt: the job
// resumes from 2 and replays what came after it, so checkpoint 3's
// committed part must go, or its records would be there twice.
TEST(TwoPhaseFileSink, ResumingFromAnOlderCheckpointRemovesWhatCameAfterIt) {
  TempDir dir;
  std::string prepared_2;
  {
    auto run = open_writer(dir.path());
    write(*run, {1});
    run->prepare_commit(1);
    run->commit(1);
    write(*run, {2});
    prepared_2 = run->prepare_commit(2);
    run->commit(2);
    write(*run, {3});
    run->prepare_commit(3);
    run->commit(3);
    write(*run, {4});
    run->close();
  }
  EXPECT_EQ(committed_lines(dir.path()), lines({1, 2, 3}));
  open_writer(dir.path())->recover({prepared_2});
  EXPECT_EQ(committed_lines(dir.path()), lines({1, 2}));
  EXPECT_EQ(hidden_files(dir.path()), 0u);
}

// Durability: a prepared part is synced before the checkpoint can name it,
// and the renames that commit parts are durable only with their directory
// synced; a failure of either fails the step instead of passing silently.
TEST(TwoPhaseFileSink, PreparingSyncsThePartAndCommittingSyncsTheDirectory) {
  TempDir dir;
  auto w = open_writer(dir.path());
  write(*w, {1});
  fault::FileFault file_sync;
  file_sync.op = fault::FileOp::kSync;
  file_sync.path_contains = ".inprogress";
  file_sync.error = EIO;
  fault::arm_file_fault(file_sync);
  EXPECT_THROW(w->prepare_commit(1), ExternalError);
  fault::disarm_all();

  auto again = open_writer(dir.path());
  write(*again, {2});
  again->prepare_commit(1);
  fault::FileFault directory_sync;
  directory_sync.op = fault::FileOp::kSyncDirectory;
  directory_sync.error = EIO;
  fault::arm_file_fault(directory_sync);
  EXPECT_THROW(again->commit(1), ExternalError);
  fault::disarm_all();
  again->commit(1);  // idempotent: the rename happened, the sync now passes
  EXPECT_EQ(committed_lines(dir.path()), lines({2}));
}

}  // namespace
}  // namespace sluice
