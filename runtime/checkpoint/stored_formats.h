// The byte forms of the files that describe checkpoints and batches: a
// checkpoint's _metadata, and the micro-batch plans and commit records.
// They are protobuf messages (runtime/checkpoint/checkpoint.proto), so
// fields can be added without making existing checkpoints unreadable; each
// carries a format version that readers check.
//
// Decoders throw InputError naming `where` (the file) for bytes that are
// not such a message or that a newer Sluice wrote in a format this one
// does not know. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/checkpoint/batch_log.h"
#include "runtime/checkpoint/metadata.h"

namespace sluice {

// The format versions this build writes (and the newest it reads).
// Metadata format 2 records the job's key hashing (format 1: the legacy
// hash, always).
inline constexpr uint32_t kMetadataFormatVersion = 2;
inline constexpr uint32_t kBatchLogFormatVersion = 1;

std::string encode_metadata(const CheckpointMetadata& metadata);
CheckpointMetadata decode_metadata(std::string_view bytes, const std::string& where);

std::string encode_batch_plan(const BatchPlan& plan);
BatchPlan decode_batch_plan(std::string_view bytes, const std::string& where);

std::string encode_batch_commit(const BatchCommit& commit);
BatchCommit decode_batch_commit(std::string_view bytes, const std::string& where);

}  // namespace sluice
