// The fault-injection kit itself (runtime/core/fault_injection.h): named
// points that throw, block or count, file faults on the durable file calls
// (runtime/core/file_io.h), and the SLUICE_FAULTS grammar.
#include "runtime/core/fault_injection.h"

#include <cerrno>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "runtime/checkpoint/checksummed_file.h"
#include "runtime/core/errors.h"
#include "runtime/core/file_io.h"
#include "tests/process_runner.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

class FaultInjection : public ::testing::Test {
 protected:
  void TearDown() override { fault::disarm_all(); }
};

void pass(const char* name) {
  SLUICE_FAULT_POINT(name);
}

TEST_F(FaultInjection, AnUnarmedPointDoesNothing) {
  EXPECT_NO_THROW(pass("test.point"));
  EXPECT_EQ(fault::hits("test.point"), 0);
}

TEST_F(FaultInjection, AnArmedPointThrowsAtItsNthHitOnce) {
  fault::arm_point("test.point", fault::PointAction::kThrow, /*skip=*/2);
  EXPECT_NO_THROW(pass("test.point"));
  EXPECT_NO_THROW(pass("test.point"));
  EXPECT_THROW(pass("test.point"), ExternalError);
  EXPECT_NO_THROW(pass("test.point"));
  EXPECT_EQ(fault::hits("test.point"), 4);
  EXPECT_NO_THROW(pass("test.other"));
}

TEST_F(FaultInjection, ABlockedPointHoldsItsThreadUntilReleased) {
  fault::arm_point("test.block", fault::PointAction::kBlock);
  std::atomic<bool> passed{false};
  std::thread worker([&] {
    pass("test.block");
    passed = true;
  });
  ASSERT_TRUE(fault::wait_until_blocked("test.block", std::chrono::seconds(10)));
  EXPECT_FALSE(passed.load());
  fault::release("test.block");
  worker.join();
  EXPECT_TRUE(passed.load());
}

TEST_F(FaultInjection, FileFaultsFailTheMatchingCallsOnly) {
  TempDir dir;
  fault::FileFault full;
  full.op = fault::FileOp::kWrite;
  full.path_contains = "victim";
  full.error = ENOSPC;
  full.times = 2;
  fault::arm_file_fault(full);
  EXPECT_NO_THROW(write_checksummed_file(dir.file("bystander"), "bytes"));
  for (int i = 0; i < 2; ++i) {
    try {
      write_checksummed_file(dir.file("victim"), "bytes");
      ADD_FAILURE() << "the write did not fail";
    } catch (const ExternalError& e) {
      EXPECT_NE(std::string(e.what()).find("No space left on device"), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find("victim.tmp"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(dir.file("victim.tmp"))) << "a failed write leaves its temporary";
    EXPECT_FALSE(fs::exists(dir.file("victim")));
  }
  EXPECT_NO_THROW(write_checksummed_file(dir.file("victim"), "bytes"));  // space came back
  EXPECT_EQ(read_checksummed_file(dir.file("victim")), "bytes");
}

// The rename that publishes a checksummed file is durable only once its
// directory is synced: a failing directory sync is a failed write.
TEST_F(FaultInjection, AFailedDirectorySyncFailsTheWrite) {
  TempDir dir;
  fault::FileFault fault;
  fault.op = fault::FileOp::kSyncDirectory;
  fault.error = EIO;
  fault::arm_file_fault(fault);
  EXPECT_THROW(write_checksummed_file(dir.file("f"), "bytes"), ExternalError);
}

TEST_F(FaultInjection, AFailedFileSyncFailsTheWrite) {
  TempDir dir;
  fault::FileFault fault;
  fault.op = fault::FileOp::kSync;
  fault.error = EIO;
  fault::arm_file_fault(fault);
  EXPECT_THROW(write_checksummed_file(dir.file("f"), "bytes"), ExternalError);
  EXPECT_FALSE(fs::exists(dir.file("f")));
}

TEST_F(FaultInjection, TheSpecGrammarArmsPointsAndFileFaults) {
  fault::arm_from_spec("test.a=throw@2,fs.rename:victim=eio*0");
  EXPECT_NO_THROW(pass("test.a"));
  EXPECT_THROW(pass("test.a"), ExternalError);
  TempDir dir;
  for (int i = 0; i < 3; ++i) {
    EXPECT_THROW(write_checksummed_file(dir.file("victim"), "x"), ExternalError) << "always";
  }
  EXPECT_NO_THROW(write_checksummed_file(dir.file("other"), "x"));
}

TEST_F(FaultInjection, BadSpecsAreUsageErrorsNamingTheEntry) {
  for (const char* bad : {"noequals", "p=explode", "p=throw@x", "p=throw@0", "fs.chmod=eio",
                          "fs.write=melt", "p=throw*2", "fs.write=slowfast"}) {
    try {
      fault::arm_from_spec(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("SLUICE_FAULTS"), std::string::npos) << e.what();
    }
  }
}

TEST(FileIo, DirectoryOf) {
  EXPECT_EQ(file_io::directory_of("a/b/c"), "a/b");
  EXPECT_EQ(file_io::directory_of("c"), ".");
  EXPECT_EQ(file_io::directory_of("/c"), "/");
}

TEST(FileIo, RenameDurablyMovesTheFile) {
  TempDir dir;
  testing::write_file(dir.file("a"), "content");
  file_io::rename_durably(dir.file("a"), dir.file("b"), "test");
  EXPECT_FALSE(fs::exists(dir.file("a")));
  EXPECT_EQ(testing::read_file(dir.file("b")), "content");
  try {
    file_io::rename_durably(dir.file("a"), dir.file("c"), "test");
    ADD_FAILURE() << "renaming a missing file succeeded";
  } catch (const ExternalError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("test: cannot rename ", 0), 0u) << e.what();
  }
}

}  // namespace
}  // namespace sluice
