#include "state/snapshot.h"

namespace sluice {

std::string encode_keyed_snapshot(KeyedSnapshot& snapshot) {
  std::shared_ptr<DeferredStates> deferred = std::move(snapshot.deferred);
  std::string out;
  ByteWriter writer(out);
  writer.write_varint(KeyedSnapshot::kFormat.version);
  writer.write_varint(snapshot.states.size() + (deferred ? deferred->count() : 0));
  for (const StateEntries& state : snapshot.states) Codec<StateEntries>::encode(state, writer);
  if (deferred) deferred->write(writer);
  Codec<std::optional<RocksFiles>>::encode(snapshot.rocks, writer);
  return out;
}

}  // namespace sluice
