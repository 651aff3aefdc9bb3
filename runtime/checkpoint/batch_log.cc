#include "runtime/checkpoint/batch_log.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>

#include "runtime/checkpoint/checksummed_file.h"
#include "runtime/checkpoint/storage.h"
#include "runtime/checkpoint/stored_formats.h"
#include "runtime/core/errors.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

std::string entry(const std::string& dir, int64_t id) {
  return dir + "/" + std::to_string(id);
}

// The batch id a log entry's file name holds, or -1 (temporary files).
int64_t id_of(const std::string& name) {
  int64_t id = -1;
  auto [rest, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
  return ec == std::errc() && rest == name.data() + name.size() ? id : -1;
}

}  // namespace

const std::vector<SplitSlice>* BatchPlan::slices_of(const std::string& source) const {
  for (const SourceSlices& s : sources) {
    if (s.source == source) return &s.slices;
  }
  return nullptr;
}

bool BatchPlan::reads_anything() const {
  for (const SourceSlices& s : sources) {
    for (const SplitSlice& slice : s.slices) {
      if (slice.end > slice.start) return true;
    }
  }
  return false;
}

BatchLog::BatchLog(std::string job_dir)
    : offsets_dir_(job_dir + "/offsets"),
      commits_dir_(job_dir + "/commits"),
      progress_dir_(job_dir + "/progress") {}

void BatchLog::write_plan(const BatchPlan& plan) const {
  make_directories(offsets_dir_);
  write_checksummed_file(entry(offsets_dir_, plan.id), encode_batch_plan(plan));
}

void BatchLog::write_commit(const BatchCommit& commit) const {
  make_directories(commits_dir_);
  write_checksummed_file(entry(commits_dir_, commit.id), encode_batch_commit(commit));
}

void BatchLog::append_progress(const std::string& json_line) const {
  make_directories(progress_dir_);
  std::ofstream out(progress_file(), std::ios::app);
  out << json_line << '\n';
  out.flush();
  if (!out) throw ExternalError("cannot append to " + progress_file());
}

std::optional<BatchPlan> BatchLog::read_plan(int64_t id) const {
  std::string path = entry(offsets_dir_, id);
  if (!fs::exists(path)) return std::nullopt;
  BatchPlan plan = decode_batch_plan(read_checksummed_file(path), path);
  if (plan.id != id)
    throw InputError(path + ": holds the plan of batch " + std::to_string(plan.id));
  return plan;
}

bool BatchLog::committed(int64_t id) const {
  return fs::exists(entry(commits_dir_, id));
}

std::vector<BatchPlan> BatchLog::plans_after(int64_t last) const {
  std::vector<BatchPlan> plans;
  while (std::optional<BatchPlan> plan = read_plan(last + 1 + static_cast<int64_t>(plans.size()))) {
    plans.push_back(std::move(*plan));
  }
  return plans;
}

std::vector<int64_t> BatchLog::ids_in(const std::string& dir) const {
  std::vector<int64_t> ids;
  std::error_code ec;
  for (const auto& file : fs::directory_iterator(dir, ec)) {
    int64_t id = id_of(file.path().filename().string());
    if (id >= 0) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

void BatchLog::remove_where(bool (*drop)(int64_t id, int64_t bound), int64_t bound) const {
  for (const std::string& dir : {offsets_dir_, commits_dir_}) {
    for (int64_t id : ids_in(dir)) {
      std::error_code ec;
      if (drop(id, bound)) fs::remove(entry(dir, id), ec);
    }
  }
}

void BatchLog::discard_after(int64_t last) const {
  remove_where([](int64_t id, int64_t bound) { return id > bound; }, last);
}

void BatchLog::discard_before(int64_t first) const {
  remove_where([](int64_t id, int64_t bound) { return id < bound; }, first);
}

}  // namespace sluice
