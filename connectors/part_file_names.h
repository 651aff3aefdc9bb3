// File-system helpers of the two-phase part files: run tokens, the
// idempotent renames that commit parts, and finding what earlier runs left.
// Pure functions over paths; safe from any thread for different files.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace sluice {

// A token that tells this run's part files from other runs' ones.
std::string new_run_token();

// Renames each (pending, final) pair in `directory`; a pair whose pending
// file is gone and whose final file exists was committed before (no-op).
// Throws ExternalError when a pending file is missing and nothing committed it.
void commit_renames(const std::string& directory,
                    const std::vector<std::pair<std::string, std::string>>& renames);

// Hidden part files (".part-S-R-N.*") in `directory` whose run token R is
// not `run_token`.
std::vector<std::string> hidden_parts_of_other_runs(const std::string& directory,
                                                    const std::string& run_token);

// S of ".part-S-...", or -1.
int subtask_of_part(const std::string& name);

// Deletes the parts of run `run_token` and subtask `subtask` numbered
// `first` or later, visible or hidden.
void delete_parts_after(const std::string& directory, const std::string& run_token, int subtask,
                        uint64_t first);

void remove_file(const std::string& path);

}  // namespace sluice
