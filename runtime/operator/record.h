// Records and batches: the unit of data in Sluice. A record is a value with
// its event-time timestamp; records always travel in batches, so per-record
// work never pays for a virtual call, a lock or an allocation of its own.
#pragma once

#include <cstddef>
#include <vector>

#include "runtime/core/time.h"

namespace sluice {

template <class T>
struct Record {
  T value;
  Timestamp timestamp;
};

template <class T>
using Batch = std::vector<Record<T>>;

// An operator's output buffer is handed downstream when it reaches this many
// records, and at the end of every input batch.
inline constexpr size_t kMaxBatchRecords = 1024;

}  // namespace sluice
