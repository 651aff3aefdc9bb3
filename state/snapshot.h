// The portable form of keyed state: what a backend writes at a checkpoint
// and reads at a restore. Entries are (key, value) byte pairs whose key starts
// with the 2-byte key-group prefix, so a restore at another parallelism keeps
// exactly the entries of the key groups it now owns.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "runtime/core/codec.h"

namespace sluice {

// All entries of one named state (or timer queue) of one operator subtask.
struct StateEntries {
  std::string name;
  std::string kind;  // "value", "list", "map", "timers"
  std::vector<std::pair<std::string, std::string>> entries;
  SLUICE_FIELDS(name, kind, entries)
};

// The keyed state of one operator subtask.
struct KeyedSnapshot {
  std::vector<StateEntries> states;
  SLUICE_FIELDS(states)
};

}  // namespace sluice
