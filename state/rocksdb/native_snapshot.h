// Incremental checkpoints of a RocksDB instance (design section 6).
//
// take_native_snapshot() is the synchronous part, on the task thread: a
// RocksDB checkpoint (memtables flushed, SST files hard-linked) into a
// scratch directory beside the instance, and the list of its files with the
// names they get in checkpoint storage. The checkpoint writer copies them
// later, off the task thread: an SST file goes to the job's shared area once
// and every later checkpoint that still holds it only references it.
// materialize() is the first step of a restore: it puts a snapshot's files
// back into a directory that RocksDB can open.
//
// Threading: pure functions over their arguments and the file system.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "state/key_groups.h"
#include "state/rocksdb/rocksdb_store.h"
#include "state/snapshot.h"

namespace sluice {

// `tag` names this instance's files in the shared area uniquely (instance
// and run); `known` maps SST files restored from a checkpoint to the names
// they already have there, so they are never stored twice.
RocksFiles take_native_snapshot(RocksStore& store, int64_t checkpoint_id, KeyGroupRange range,
                                const std::string& tag,
                                const std::map<std::string, std::string>& known,
                                SnapshotFiles& out);

// Hard-links (or copies, across file systems) the SST files of `files` into
// `dir` under their RocksDB names, and copies the others. Throws InputError
// naming a missing file.
void materialize(const RocksFiles& files, const std::string& dir);

}  // namespace sluice
