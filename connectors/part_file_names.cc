#include "connectors/part_file_names.h"

#include <cstdio>
#include <filesystem>
#include <random>

#include <fmt/format.h>

#include "runtime/core/errors.h"
#include "runtime/core/fault_injection.h"
#include "runtime/core/file_io.h"

namespace sluice {

namespace fs = std::filesystem;

std::string new_run_token() {
  std::random_device device;
  uint64_t bits = (static_cast<uint64_t>(device()) << 32) ^ device();
  return fmt::format("{:012x}", bits & 0xffffffffffffULL);
}

void commit_renames(const std::string& directory,
                    const std::vector<std::pair<std::string, std::string>>& renames) {
  bool renamed = false;
  for (const auto& [pending, final_name] : renames) {
    std::string from = directory + "/" + pending;
    std::string to = directory + "/" + final_name;
    std::error_code ec;
    if (fs::exists(from, ec)) {
      if (int error = file_io::rename(from, to)) {
        file_io::throw_error("file sink", "commit", from, error);
      }
      renamed = true;
      SLUICE_FAULT_POINT("file-sink.part-renamed");
    } else if (!fs::exists(to, ec)) {
      throw ExternalError("file sink: " + from + " was prepared but is missing");
    }
  }
  // The renames are durable once the directory is.
  if (renamed) file_io::sync_directory_or_throw(directory, "file sink");
}

int subtask_of_part(const std::string& name) {
  int subtask = -1;
  if (std::sscanf(name.c_str(), ".part-%d-", &subtask) != 1) return -1;
  return subtask;
}

std::vector<std::string> hidden_parts_of_other_runs(const std::string& directory,
                                                    const std::string& run_token) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(directory, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(".part-", 0) != 0 || subtask_of_part(name) < 0) continue;
    if (name.find("-" + run_token + "-") != std::string::npos) continue;
    names.push_back(name);
  }
  return names;
}

void delete_parts_after(const std::string& directory, const std::string& run_token, int subtask,
                        uint64_t first) {
  std::string prefix = "part-" + std::to_string(subtask) + "-" + run_token + "-";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(directory, ec)) {
    std::string name = entry.path().filename().string();
    std::string bare = name[0] == '.' ? name.substr(1) : name;
    if (bare.rfind(prefix, 0) != 0) continue;
    unsigned long long part = 0;
    if (std::sscanf(bare.c_str() + prefix.size(), "%llu", &part) != 1) continue;
    if (part >= first) fs::remove(entry.path(), ec);
  }
}

void remove_file(const std::string& path) {
  std::error_code ec;
  fs::remove(path, ec);
}

}  // namespace sluice
