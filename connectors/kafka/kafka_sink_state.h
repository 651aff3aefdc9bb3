// Internal to the Kafka sink (kafka_sink.cc, kafka_sink_recovery.cc): an
// exactly-once writer's epochs, its checkpoint state and the names it
// derives (transactional.ids, marker keys).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "connectors/kafka/kafka_message.h"
#include "connectors/kafka/kafka_sink.h"
#include "runtime/core/codec.h"
#include "runtime/core/versioned.h"

namespace sluice::kafka {

// One epoch: the messages written between two barriers, in the transaction
// of transactional.id slot `slot`.
struct KafkaSinkCore::Epoch {
  int32_t slot = 0;
  EpochOutput output;
};

// A prepared epoch as the checkpoint stores it.
struct PreparedEpoch {
  int64_t checkpoint = 0;
  int32_t slot = 0;
  EpochOutput output;
  SLUICE_FIELDS(checkpoint, slot, output)
};

// An exactly-once writer's checkpoint state: every epoch prepared and not
// yet committed, oldest first, and the newest epoch this run had committed
// (with its marker) when the state was taken: recovery tells "never
// committed" from "the markers cannot be seen" by it.
struct KafkaSinkState {
  static constexpr PersistedFormat kFormat{"kafka sink state", 1};
  std::string run_token;
  int32_t subtask = 0;
  int32_t pool_size = 0;
  int64_t last_committed = -1;  // -1: no marker written yet by this run
  std::vector<PreparedEpoch> epochs;
  SLUICE_FIELDS(run_token, subtask, pool_size, last_committed, epochs)
};

// "<prefix>-<subtask>-<slot>".
std::string transactional_id_of(const std::string& prefix, int subtask, int slot);
// "<prefix>-<subtask>-<run token>".
std::string marker_key_of(const std::string& prefix, int subtask, const std::string& run_token);

}  // namespace sluice::kafka
