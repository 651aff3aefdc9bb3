// The portable form of keyed state: what a backend writes at a checkpoint
// and reads at a restore. Each entry is a key (with its 2-byte key-group
// prefix), a namespace and an encoded value, so a restore at another
// parallelism keeps exactly the entries of the key groups it now owns.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "runtime/core/codec.h"

namespace sluice {

struct StateEntry {
  std::string key;  // key-group prefix + encoded key
  std::string ns;   // encoded namespace, empty for none
  std::string value;
  SLUICE_FIELDS(key, ns, value)
};

// All entries of one named state (or timer queue) of one operator subtask.
struct StateEntries {
  std::string name;
  std::string kind;  // "value", "list", "map", "timers"
  std::vector<StateEntry> entries;
  SLUICE_FIELDS(name, kind, entries)
};

// The keyed state of one operator subtask.
struct KeyedSnapshot {
  std::vector<StateEntries> states;
  SLUICE_FIELDS(states)
};

}  // namespace sluice
