#include "state/snapshot_pins.h"

#include <algorithm>

#include "runtime/core/errors.h"

namespace sluice {

std::shared_ptr<SnapshotLease> SnapshotPins::pin() {
  still_pinned();  // forget finished leases first
  auto lease = std::make_shared<SnapshotLease>(version_);
  leases_.push_back(lease);
  pinned_version_ = version_;
  ++version_;
  return lease;
}

bool SnapshotPins::still_pinned() {
  std::erase_if(leases_, [](const std::shared_ptr<SnapshotLease>& lease) {
    return lease->done.load(std::memory_order_acquire);
  });
  if (leases_.empty()) pinned_version_ = 0;
  return pinned_version_ != 0;
}

uint64_t SnapshotPins::oldest_pinned() {
  if (!still_pinned()) return ~uint64_t{0};
  return leases_.front()->version;  // leases are kept in the order pinned
}

void SnapshotPins::release_all() {
  for (const std::shared_ptr<SnapshotLease>& lease : leases_) {
    std::lock_guard lock(lease->mutex);
    lease->released = true;
  }
  leases_.clear();
  pinned_version_ = 0;
}

CapturedStates::~CapturedStates() {
  lease_->done.store(true, std::memory_order_release);
}

template <class Read>
void CapturedStates::read_frozen(const Read& read) {
  std::lock_guard lock(lease_->mutex);
  if (lease_->released) {
    throw SluiceError(ErrorKind::kCancelled,
                      "the operator closed before its state snapshot was written");
  }
  read();
  tables_.clear();
  lease_->done.store(true, std::memory_order_release);
}

void CapturedStates::complete(std::vector<StateEntries>& out) {
  read_frozen([&] {
    for (const auto& [name, capture] : tables_) {
      StateEntries entries;
      entries.name = name;
      capture->encode_into(entries);
      out.push_back(std::move(entries));
    }
  });
}

void CapturedStates::write(ByteWriter& writer) {
  read_frozen([&] {
    for (const auto& [name, capture] : tables_) {
      Codec<std::string>::encode(name, writer);
      capture->write(writer);
    }
  });
}

}  // namespace sluice
