// Unit tests of the connectors' sinks: the file sink's part-file publishing
// protocol (in-progress files, rollover by size and by processing time), the
// single-file text sink, the stdout sink and the collect sink.
// No sleeps: rollover runs on a ManualClock.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "connectors/collect_sink.h"
#include "connectors/file_sink.h"
#include "connectors/stdout_sink.h"
#include "runtime/core/clock.h"
#include "runtime/core/errors.h"
#include "runtime/operator/record.h"
#include "tests/connectors_support.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

using testing::lines_of;
using testing::read_file;
using testing::TempDir;
using testing::write_file_checked;

// ---------------------------------------------------------------------------
// Helpers

// File names in `dir` that are committed output (the sink contract) or not.
std::vector<std::string> visible_files(const fs::path& dir) {
  std::vector<std::string> names;
  if (!fs::exists(dir)) return names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (name[0] != '.' && name[0] != '_') names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> hidden_files(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (name[0] == '.' || name[0] == '_') names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Every line of every committed file in `dir`, file by file in name order.
// Unlike testing::committed_lines it keeps that order and checks that no
// file ends mid-line.
std::vector<std::string> committed_lines(const fs::path& dir) {
  std::vector<std::string> lines;
  for (const std::string& name : visible_files(dir)) {
    std::string content = read_file((dir / name).string());
    EXPECT_TRUE(content.empty() || content.back() == '\n') << name << " ends mid-line";
    for (std::string& line : lines_of(content)) lines.push_back(std::move(line));
  }
  return lines;
}

Batch<std::string> text_batch(int first, int count) {
  Batch<std::string> batch;
  for (int i = first; i < first + count; ++i) {
    char text[16];
    std::snprintf(text, sizeof text, "rec-%02d", i);
    batch.push_back(Record<std::string>{text, i});
  }
  return batch;
}

auto copy_text = [](const std::string& value, std::string& out) { out += value; };

SinkContext sink_context(int subtask, int parallelism, const Clock* clock) {
  SinkContext context;
  context.subtask = subtask;
  context.parallelism = parallelism;
  context.task_name = "test/sink/" + std::to_string(subtask);
  context.clock = clock;
  return context;
}

// ---------------------------------------------------------------------------
// File sink

TEST(FileSink, PublishesOnlyAtFinish) {
  TempDir dir;
  fs::path out = fs::path(dir.path()) / "out" / "nested";  // created by open
  ManualClock clock(1000);
  FileSink<std::string, decltype(copy_text)> sink(FileSinkOptions{.directory = out.string()},
                                                  copy_text);
  auto writer = sink.create_writer();
  writer->open(sink_context(0, 1, &clock));
  Batch<std::string> batch = text_batch(0, 10);
  writer->write(batch);
  EXPECT_TRUE(visible_files(out).empty());
  EXPECT_EQ(hidden_files(out), std::vector<std::string>{".part-0-0.inprogress"});
  writer->finish();
  writer->close();
  EXPECT_EQ(visible_files(out), std::vector<std::string>{"part-0-0"});
  EXPECT_TRUE(hidden_files(out).empty());
  EXPECT_EQ(read_file((out / "part-0-0").string()),
            "rec-00\nrec-01\nrec-02\nrec-03\nrec-04\nrec-05\nrec-06\nrec-07\nrec-08\nrec-09\n");
}

TEST(FileSink, SubtasksWriteTheirOwnParts) {
  TempDir dir;
  ManualClock clock(0);
  FileSink<std::string, decltype(copy_text)> sink(FileSinkOptions{.directory = dir.file("out")},
                                                  copy_text);
  std::vector<std::string> expected;
  for (int subtask = 0; subtask < 3; ++subtask) {
    auto writer = sink.create_writer();
    writer->open(sink_context(subtask, 3, &clock));
    Batch<std::string> batch = text_batch(subtask * 10, 10);
    for (const auto& record : batch) expected.push_back(record.value);
    writer->write(batch);
    writer->finish();
    writer->close();
  }
  EXPECT_EQ(visible_files(dir.file("out")),
            (std::vector<std::string>{"part-0-0", "part-1-0", "part-2-0"}));
  std::vector<std::string> lines = committed_lines(dir.file("out"));
  EXPECT_EQ(lines, expected);
}

TEST(FileSink, CloseWithoutFinishPublishesNothing) {
  TempDir dir;
  ManualClock clock(0);
  FileSink<std::string, decltype(copy_text)> sink(FileSinkOptions{.directory = dir.file("out")},
                                                  copy_text);
  auto writer = sink.create_writer();
  writer->open(sink_context(0, 1, &clock));
  Batch<std::string> batch = text_batch(0, 5);
  writer->write(batch);
  writer->close();
  EXPECT_TRUE(visible_files(dir.file("out")).empty());
  EXPECT_EQ(hidden_files(dir.file("out")), std::vector<std::string>{".part-0-0.inprogress"});
}

TEST(FileSink, RollsOverBySize) {
  TempDir dir;
  ManualClock clock(0);
  // Lines are 7 bytes: a part is published after its 4th line (28 >= 25).
  FileSink<std::string, decltype(copy_text)> sink(
      FileSinkOptions{.directory = dir.file("out"), .max_file_bytes = 25}, copy_text);
  auto writer = sink.create_writer();
  writer->open(sink_context(0, 1, &clock));
  Batch<std::string> batch = text_batch(0, 10);
  writer->write(batch);
  EXPECT_EQ(visible_files(dir.file("out")), (std::vector<std::string>{"part-0-0", "part-0-1"}));
  writer->finish();
  writer->close();
  EXPECT_EQ(visible_files(dir.file("out")),
            (std::vector<std::string>{"part-0-0", "part-0-1", "part-0-2"}));
  EXPECT_EQ(read_file(dir.file("out/part-0-0")), "rec-00\nrec-01\nrec-02\nrec-03\n");
  EXPECT_EQ(read_file(dir.file("out/part-0-1")), "rec-04\nrec-05\nrec-06\nrec-07\n");
  EXPECT_EQ(read_file(dir.file("out/part-0-2")), "rec-08\nrec-09\n");
}

TEST(FileSink, RollsOverByProcessingTime) {
  TempDir dir;
  ManualClock clock(1000);
  FileSink<std::string, decltype(copy_text)> sink(
      FileSinkOptions{.directory = dir.file("out"), .rollover_interval = 2000}, copy_text);
  auto writer = sink.create_writer();
  writer->open(sink_context(0, 1, &clock));
  Batch<std::string> first = text_batch(0, 2);
  writer->write(first);  // opens part 0 at 1000
  clock.set(2999);
  Batch<std::string> second = text_batch(2, 1);
  writer->write(second);
  EXPECT_TRUE(visible_files(dir.file("out")).empty());
  clock.set(3000);
  Batch<std::string> third = text_batch(3, 1);
  writer->write(third);  // part 0 is due: published before this batch
  EXPECT_EQ(visible_files(dir.file("out")), std::vector<std::string>{"part-0-0"});
  EXPECT_EQ(read_file(dir.file("out/part-0-0")), "rec-00\nrec-01\nrec-02\n");
  clock.set(5000);
  writer->on_watermark(123);  // watermarks check the interval too
  EXPECT_EQ(visible_files(dir.file("out")), (std::vector<std::string>{"part-0-0", "part-0-1"}));
  EXPECT_EQ(read_file(dir.file("out/part-0-1")), "rec-03\n");
  clock.set(100'000);
  writer->on_watermark(456);  // no open part: nothing to publish
  writer->finish();
  writer->close();
  EXPECT_EQ(visible_files(dir.file("out")), (std::vector<std::string>{"part-0-0", "part-0-1"}));
}

TEST(FileSink, FinishWithoutRecordsPublishesNothing) {
  TempDir dir;
  ManualClock clock(0);
  FileSink<std::string, decltype(copy_text)> sink(FileSinkOptions{.directory = dir.file("out")},
                                                  copy_text);
  auto writer = sink.create_writer();
  writer->open(sink_context(0, 1, &clock));
  writer->finish();
  writer->close();
  EXPECT_TRUE(fs::is_directory(dir.file("out")));
  EXPECT_TRUE(visible_files(dir.file("out")).empty());
  EXPECT_TRUE(hidden_files(dir.file("out")).empty());
}

TEST(FileSink, UnusableDirectoryIsAnExternalError) {
  TempDir dir;
  write_file_checked(dir.file("plain"), "not a directory\n");
  std::string out = dir.file("plain") + "/out";
  FileSink<std::string, decltype(copy_text)> sink(FileSinkOptions{.directory = out}, copy_text);
  auto writer = sink.create_writer();
  try {
    writer->open(sink_context(0, 1, nullptr));
    FAIL() << "no error";
  } catch (const ExternalError& error) {
    EXPECT_NE(std::string(error.what()).find("file sink: cannot create directory " + out),
              std::string::npos)
        << error.what();
  }
  EXPECT_THROW((FileSink<std::string, decltype(copy_text)>(FileSinkOptions{}, copy_text)),
               UsageError);
}

TEST(TextFileSink, OneFileAppearsAtFinish) {
  TempDir dir;
  std::string path = dir.file("results/out.txt");
  TextFileSink<std::string, decltype(copy_text)> sink(path, copy_text);
  auto writer = sink.create_writer();
  writer->open(sink_context(0, 1, nullptr));
  Batch<std::string> batch = text_batch(0, 3);
  writer->write(batch);
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(fs::exists(dir.file("results/.out.txt.inprogress")));
  writer->finish();
  writer->close();
  EXPECT_EQ(read_file(path), "rec-00\nrec-01\nrec-02\n");
  EXPECT_FALSE(fs::exists(dir.file("results/.out.txt.inprogress")));
}

TEST(TextFileSink, CloseWithoutFinishLeavesNoFile) {
  TempDir dir;
  std::string path = dir.file("out.txt");
  TextFileSink<std::string, decltype(copy_text)> sink(path, copy_text);
  auto writer = sink.create_writer();
  writer->open(sink_context(0, 1, nullptr));
  Batch<std::string> batch = text_batch(0, 3);
  writer->write(batch);
  writer->close();
  EXPECT_FALSE(fs::exists(path));
}

TEST(TextFileSink, NeedsParallelismOne) {
  TempDir dir;
  TextFileSink<std::string, decltype(copy_text)> sink(dir.file("out.txt"), copy_text);
  auto writer = sink.create_writer();
  EXPECT_THROW(writer->open(sink_context(1, 2, nullptr)), UsageError);
}

// ---------------------------------------------------------------------------
// Stdout sink

TEST(StdoutSink, PrintsWholeLinesUpToTheLimit) {
  std::FILE* stream = std::tmpfile();
  ASSERT_NE(stream, nullptr);
  StdoutSink<std::string, decltype(copy_text)> sink(copy_text, {.max_lines = 5, .stream = stream});
  auto first = sink.create_writer();
  auto second = sink.create_writer();
  Batch<std::string> a = text_batch(0, 3);
  Batch<std::string> b = text_batch(3, 3);
  first->write(a);
  second->write(b);
  first->write(a);
  EXPECT_EQ(sink.lines_printed(), 5u);
  EXPECT_EQ(sink.lines_suppressed(), 4u);
  std::rewind(stream);
  char text[256] = {};
  size_t n = std::fread(text, 1, sizeof text - 1, stream);
  std::fclose(stream);
  EXPECT_EQ(std::string(text, n), "rec-00\nrec-01\nrec-02\nrec-03\nrec-04\n");
}

// ---------------------------------------------------------------------------
// Collect sink

TEST(CollectSink, GathersBatchesFromManyWriters) {
  auto collected = std::make_shared<Collected<int>>();
  CollectSink<int> sink(collected);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&sink, t] {
      auto writer = sink.create_writer();
      for (int b = 0; b < 50; ++b) {
        Batch<int> batch;
        for (int i = 0; i < 10; ++i) batch.push_back({t * 1000 + b * 10 + i, b});
        writer->write(batch);
      }
      writer->finish();
    });
  }
  EXPECT_TRUE(collected->wait_for_size(2000, std::chrono::seconds(10)));
  for (auto& thread : threads) thread.join();
  EXPECT_FALSE(collected->wait_for_size(2001, std::chrono::milliseconds(1)));
  EXPECT_EQ(collected->finished_writers(), 4);
  std::vector<int> values = collected->values();
  std::sort(values.begin(), values.end());
  std::vector<int> expected;
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < 500; ++i) expected.push_back(t * 1000 + i);
  }
  EXPECT_EQ(values, expected);
  EXPECT_EQ(collected->snapshot().size(), 2000u);
}

}  // namespace
}  // namespace sluice
