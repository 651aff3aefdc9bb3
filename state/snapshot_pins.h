// Snapshots of memory state taken without stopping the task for a copy.
//
// At a checkpoint barrier the task thread only pins the state: every table
// lists its entries (pointers, no values copied) and the pins freeze them.
// From then on the task thread never changes a frozen entry in place: the
// first write to one copies it (copy-on-write) and retires the original,
// which stays alive for the snapshot. The snapshot writer encodes the frozen
// entries on its own thread; when it is done, or the snapshot is dropped,
// the pins come off, retired entries are freed, and writes go in place
// again.
//
// Threading: SnapshotPins lives on the task thread with the backend that
// owns it. A CapturedStates object crosses to the writer thread: complete()
// runs there (once); the task thread never touches it after the handover.
// The SnapshotLease between the two is the only shared object: its mutex is
// held while the writer reads frozen entries, and the backend takes it once,
// at destruction, to stop a writer that has not started. Lifecycle of a
// lease: pin() -> complete() or drop -> done; or the backend goes first ->
// released, and complete() fails.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "state/snapshot.h"

namespace sluice {

struct SnapshotLease {
  explicit SnapshotLease(uint64_t pinned) : version(pinned) {}
  const uint64_t version;  // entries written at or below it are frozen for it
  std::mutex mutex;
  bool released = false;  // under mutex: the backend, and its entries, are gone
  std::atomic<bool> done{false};
};

// What one table froze at a snapshot; encoded off the task thread.
class TableCapture {
 public:
  virtual ~TableCapture() = default;
  // Appends the frozen entries to `out` (its kind too).
  virtual void encode_into(StateEntries& out) const = 0;
  // Writes what encode_into() would give, as an encoded StateEntries
  // without its name (the kind, then the entries).
  virtual void write(ByteWriter& writer) const = 0;
};

// Writes StateEntries' entry list for entries listed by `for_each`, which
// calls its argument with (key, namespace, value) for each, and is called
// twice (once to count). A value is a const reference, encoded here.
template <class ForEach>
void write_state_entries(ByteWriter& writer, const ForEach& for_each) {
  uint64_t count = 0;
  for_each([&](const std::string&, const std::string&, const auto&) { ++count; });
  writer.write_varint(count);
  std::string scratch;
  for_each([&](const std::string& key, const std::string& ns, const auto& value) {
    Codec<std::string>::encode(key, writer);
    Codec<std::string>::encode(ns, writer);
    scratch.clear();
    ByteWriter value_writer(scratch);
    Codec<std::decay_t<decltype(value)>>::encode(value, value_writer);
    Codec<std::string>::encode(scratch, writer);
  });
}

// A capture of entries already encoded at the barrier (tables whose store
// has its own snapshots, e.g. RocksDB's full snapshots).
class EncodedCapture final : public TableCapture {
 public:
  explicit EncodedCapture(StateEntries entries) : entries_(std::move(entries)) {}
  void encode_into(StateEntries& out) const override {
    out.kind = entries_.kind;
    out.entries = entries_.entries;
  }
  void write(ByteWriter& writer) const override {
    Codec<std::string>::encode(entries_.kind, writer);
    Codec<std::vector<StateEntry>>::encode(entries_.entries, writer);
  }

 private:
  StateEntries entries_;
};

// Copy-on-write bookkeeping of one backend's memory tables. Entries carry
// the version they were written at; an entry is frozen while a snapshot
// that pinned its version may still read it.
class SnapshotPins {
 public:
  SnapshotPins() = default;
  SnapshotPins(const SnapshotPins&) = delete;
  SnapshotPins& operator=(const SnapshotPins&) = delete;

  // The version for entries written now.
  uint64_t version() const { return version_; }
  // Whether an entry written at `entry_version` must not change in place.
  bool frozen(uint64_t entry_version) { return entry_version <= pinned_version_ && still_pinned(); }
  // The newest version a live snapshot pinned (0 when none is live).
  uint64_t pinned_version() const { return pinned_version_; }
  // The oldest version a live snapshot pinned, or the largest value when
  // none is live: an entry retired while the newest pin was below it can
  // no longer be read.
  uint64_t oldest_pinned();
  // Freezes every entry written so far, for the snapshot holding the lease.
  std::shared_ptr<SnapshotLease> pin();
  // The backend is going away: waits for a writer reading frozen entries,
  // and fails the writers that have not started.
  void release_all();

 private:
  // Drops finished leases; unpins (and returns false) when none is left.
  bool still_pinned();

  uint64_t version_ = 1;
  uint64_t pinned_version_ = 0;
  std::vector<std::shared_ptr<SnapshotLease>> leases_;
};

// Entries replaced or erased while a snapshot could read them, freed in
// the order they were retired once no snapshot that could read them is
// live, a few at a time so that no write pays for a whole snapshot's.
// Snapshots may overlap without end (one still writing when the next
// pins): entries are freed by age, not when nothing is pinned.
template <class T>
class RetiredEntries {
 public:
  RetiredEntries() = default;
  RetiredEntries(const RetiredEntries&) = delete;
  RetiredEntries& operator=(const RetiredEntries&) = delete;
  ~RetiredEntries() {
    for (auto& [pinned, entry] : entries_) delete entry;
  }
  void add(T* entry, const SnapshotPins& pins) {
    entries_.emplace_back(pins.pinned_version(), entry);
  }
  // Frees at most `limit` entries that no live snapshot reads.
  void release(SnapshotPins& pins, size_t limit) {
    if (entries_.empty()) return;
    uint64_t oldest = pins.oldest_pinned();
    for (; limit > 0 && !entries_.empty() && entries_.front().first < oldest; --limit) {
      delete entries_.front().second;
      entries_.pop_front();
    }
  }
  size_t size() const { return entries_.size(); }

  // Entries one write frees at most: more than one write retires.
  static constexpr size_t kPerWrite = 4;

 private:
  std::deque<std::pair<uint64_t, T*>> entries_;  // (newest pin when retired, entry)
};

// The tables a backend captured at a barrier, for KeyedSnapshot::deferred.
class CapturedStates final : public DeferredStates {
 public:
  explicit CapturedStates(std::shared_ptr<SnapshotLease> lease) : lease_(std::move(lease)) {}
  ~CapturedStates() override;
  void add(std::string name, std::unique_ptr<TableCapture> capture) {
    tables_.emplace_back(std::move(name), std::move(capture));
  }
  void complete(std::vector<StateEntries>& out) override;
  size_t count() const override { return tables_.size(); }
  void write(ByteWriter& writer) override;

 private:
  // Runs `read` while the frozen entries are safe to read, then ends the
  // snapshot's pins; throws when the backend is gone.
  template <class Read>
  void read_frozen(const Read& read);

  std::shared_ptr<SnapshotLease> lease_;
  std::vector<std::pair<std::string, std::unique_ptr<TableCapture>>> tables_;
};

}  // namespace sluice
