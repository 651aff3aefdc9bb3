// Helpers shared by the connectors tests (connectors_source_test.cc and
// connectors_sink_test.cc). The temp dirs and file reading come from
// tests/process_runner.h; this adds what only the connectors tests need.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "runtime/api/record.h"
#include "tests/process_runner.h"

namespace sluice::testing {

// write_file, but a file that cannot be written fails the test here rather
// than later as a puzzling difference in what was read.
inline void write_file_checked(const std::string& path, const std::string& content) {
  write_file(path, content);
  std::error_code error;
  ASSERT_EQ(std::filesystem::file_size(path, error), content.size())
      << "cannot write " << path << ": " << error.message();
}

// The lines of `content` as the file source should see them.
inline std::vector<std::string> lines_of(const std::string& content) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < content.size()) {
    size_t newline = content.find('\n', start);
    size_t end = newline == std::string::npos ? content.size() : newline;
    std::string line = content.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

// The values of a batch that a source reader filled, in order.
template <class T>
std::vector<T> values_of(const Batch<T>& batch) {
  std::vector<T> values;
  values.reserve(batch.size());
  for (const Record<T>& record : batch) values.push_back(record.value);
  return values;
}

}  // namespace sluice::testing
