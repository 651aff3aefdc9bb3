#include "connectors/file_split.h"

#include <algorithm>
#include <cstring>

#include "connectors/posix_file.h"
#include "runtime/core/errors.h"

namespace sluice {
namespace {

constexpr size_t kScanChunkBytes = size_t{1} << 20;

// size * k / count without overflowing 64 bits.
uint64_t target_offset(uint64_t size, int k, int count) {
  auto n = static_cast<uint64_t>(count);
  auto i = static_cast<uint64_t>(k);
  return size / n * i + size % n * i / n;
}

// Fills the split starts from the file's line starts: split k starts at the
// first line start at or after its target offset.
class BoundaryFinder {
 public:
  BoundaryFinder(std::vector<FileSplit>& splits, uint64_t size) : splits_(splits), size_(size) {
    splits_[0] = FileSplit{0, 0, 0, 1, 1};
    place_at(0, 1);  // later splits whose target is 0 also start at 0
  }

  // A line starts at `offset` with 1-based number `line`.
  void place_at(uint64_t offset, uint64_t line) {
    while (next_ < splits_.size() && target(next_) <= offset) {
      splits_[next_] = FileSplit{static_cast<int>(next_), offset, 0, line, line};
      ++next_;
    }
  }
  bool done() const { return next_ == splits_.size(); }

  // Splits with no line start at or after their target begin at the end.
  // The file has `newlines` '\n's and `lines` lines (an unterminated last
  // line included).
  void finish(uint64_t newlines, uint64_t lines) {
    while (!done()) place_at_end(newlines);
    for (size_t k = 0; k < splits_.size(); ++k) {
      FileSplit& split = splits_[k];
      split.end = k + 1 < splits_.size() ? splits_[k + 1].begin : size_;
      split.end_line = end_line(k, lines);
    }
  }

 private:
  // A split that ends before the file's end ends where the next one starts,
  // at a line start with its number.
  uint64_t end_line(size_t k, uint64_t lines) const {
    const FileSplit& split = splits_[k];
    if (split.begin == split.end) return split.first_line;
    if (split.end < size_) return splits_[k + 1].first_line;
    return lines + 1;
  }
  uint64_t target(size_t k) const {
    return target_offset(size_, static_cast<int>(k), static_cast<int>(splits_.size()));
  }
  void place_at_end(uint64_t newlines) {
    const uint64_t line = newlines + 1;
    splits_[next_] = FileSplit{static_cast<int>(next_), size_, 0, line, line};
    ++next_;
  }

  std::vector<FileSplit>& splits_;
  uint64_t size_;
  size_t next_ = 1;
};

}  // namespace

std::vector<FileSplit> plan_file_splits(const std::string& path, int count) {
  if (count < 1) throw UsageError("file source: split count must be at least 1");
  PosixFile file = PosixFile::open_for_reading(path, "file source");
  const uint64_t size = file.size();
  std::vector<FileSplit> splits(static_cast<size_t>(count));
  BoundaryFinder finder(splits, size);
  // Past the last split's start, only the number of lines matters.
  std::vector<char> chunk(kScanChunkBytes);
  uint64_t offset = 0;
  uint64_t newlines = 0;
  char last_byte = '\n';
  while (offset < size) {
    size_t got =
        file.read_at(chunk.data(), std::min<uint64_t>(chunk.size(), size - offset), offset);
    if (got == 0) throw ExternalError("file source: " + path + " shrank while it was planned");
    const char* p = chunk.data();
    const char* end = p + got;
    while (!finder.done()) {
      const void* hit = std::memchr(p, '\n', static_cast<size_t>(end - p));
      if (hit == nullptr) break;
      const char* newline = static_cast<const char*>(hit);
      ++newlines;
      finder.place_at(offset + static_cast<uint64_t>(newline - chunk.data()) + 1, newlines + 1);
      p = newline + 1;
    }
    newlines += static_cast<uint64_t>(std::count(p, end, '\n'));
    last_byte = end[-1];
    offset += got;
  }
  finder.finish(newlines, last_byte == '\n' ? newlines : newlines + 1);
  return splits;
}

SplitPosition file_split_position(int split_count, const FileSplit& split, LinePosition next,
                                  SplitState state) {
  FileSplitPosition position{
      static_cast<int32_t>(split_count), split.begin, split.end, next.offset, next.line, state};
  return SplitPosition{split.id, encode_versioned(FileSplitPosition::kFormat, position)};
}

LinePosition resume_position(const std::string& source, const FileSplit& split,
                             const FileSplitPosition& stored) {
  auto range = [](uint64_t begin, uint64_t end) {
    return "bytes " + std::to_string(begin) + ".." + std::to_string(end);
  };
  if (stored.begin != split.begin || stored.end != split.end) {
    throw corrupt_position(source, split.id,
                           "the split was " + range(stored.begin, stored.end) + " but is " +
                               range(split.begin, split.end) +
                               " now (the file changed since the checkpoint)");
  }
  if (stored.offset < split.begin || stored.offset > split.end) {
    throw corrupt_position(source, split.id,
                           "byte " + std::to_string(stored.offset) + " is outside the split's " +
                               range(split.begin, split.end));
  }
  // Every line before `offset` takes at least its '\n'.
  if (stored.line < split.first_line ||
      stored.line - split.first_line > stored.offset - split.begin) {
    throw corrupt_position(source, split.id,
                           "line " + std::to_string(stored.line) + " cannot start at byte " +
                               std::to_string(stored.offset) + " of a split whose first line, " +
                               std::to_string(split.first_line) + ", starts at byte " +
                               std::to_string(split.begin));
  }
  if (stored.state == SplitState::kFinished && stored.offset != split.end) {
    throw corrupt_position(source, split.id,
                           "it is finished but stands at byte " + std::to_string(stored.offset) +
                               ", before the split's end at " + std::to_string(split.end));
  }
  return LinePosition{stored.offset, stored.line};
}

SplitPlanCache::Plan SplitPlanCache::get(int count) {
  std::lock_guard lock(mutex_);
  auto it = plans_.find(count);
  if (it != plans_.end()) return it->second;
  auto plan = std::make_shared<const std::vector<FileSplit>>(plan_file_splits(path_, count));
  plans_.emplace(count, plan);
  return plan;
}

}  // namespace sluice
