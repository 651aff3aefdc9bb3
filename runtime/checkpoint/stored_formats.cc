#include "runtime/checkpoint/stored_formats.h"

#include <fmt/format.h>

#include "runtime/checkpoint/checkpoint.pb.h"
#include "runtime/core/errors.h"

namespace sluice {
namespace {

template <class Message>
Message parse(std::string_view bytes, const std::string& where, const char* what, uint32_t newest) {
  Message message;
  if (!message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    throw InputError(fmt::format("{}: not a {} (malformed)", where, what));
  }
  if (message.format_version() == 0 || message.format_version() > newest) {
    throw InputError(fmt::format(
        "{}: {} in format version {}, which this Sluice does not read (it reads 1 to {})", where,
        what, message.format_version(), newest));
  }
  return message;
}

KeyHashing decode_key_hashing(const stored::CheckpointMetadata& m, const std::string& where) {
  if (m.format_version() == 1) return KeyHashing::kLegacy;
  switch (m.key_hashing()) {
    case static_cast<uint32_t>(KeyHashing::kLegacy):
      return KeyHashing::kLegacy;
    case static_cast<uint32_t>(KeyHashing::kXxh3):
      return KeyHashing::kXxh3;
    default:
      throw InputError(fmt::format("{}: checkpoint metadata with unknown key hashing {}", where,
                                   m.key_hashing()));
  }
}

}  // namespace

std::string encode_metadata(const CheckpointMetadata& metadata) {
  stored::CheckpointMetadata m;
  m.set_format_version(kMetadataFormatVersion);
  m.set_id(metadata.id);
  m.set_job(metadata.job);
  m.set_max_parallelism(metadata.max_parallelism);
  m.set_completed_at(metadata.completed_at);
  m.set_key_hashing(static_cast<uint32_t>(metadata.key_hashing));
  for (const OperatorStateHandle& op : metadata.operators) {
    stored::OperatorState& o = *m.add_operators();
    o.set_name(op.name);
    o.set_parallelism(op.parallelism);
    for (const SubtaskStateHandle& s : op.subtasks) {
      stored::SubtaskState& t = *o.add_subtasks();
      t.set_subtask(s.subtask);
      t.set_keyed_state(s.keyed_state);
      t.set_operator_state(s.operator_state);
      for (const std::string& f : s.shared_files) t.add_shared_files(f);
      for (const std::string& f : s.files) t.add_files(f);
    }
  }
  return m.SerializeAsString();
}

CheckpointMetadata decode_metadata(std::string_view bytes, const std::string& where) {
  auto m = parse<stored::CheckpointMetadata>(bytes, where, "checkpoint metadata",
                                             kMetadataFormatVersion);
  CheckpointMetadata metadata;
  metadata.id = m.id();
  metadata.job = m.job();
  metadata.max_parallelism = m.max_parallelism();
  metadata.completed_at = m.completed_at();
  metadata.key_hashing = decode_key_hashing(m, where);
  if (metadata.max_parallelism <= 0) {
    throw InputError(fmt::format("{}: checkpoint metadata with max parallelism {}", where,
                                 metadata.max_parallelism));
  }
  for (const stored::OperatorState& o : m.operators()) {
    if (o.parallelism() <= 0 || o.parallelism() > metadata.max_parallelism) {
      throw InputError(fmt::format("{}: operator '{}' has parallelism {} (max parallelism {})",
                                   where, o.name(), o.parallelism(), metadata.max_parallelism));
    }
    OperatorStateHandle& op = metadata.operators.emplace_back();
    op.name = o.name();
    op.parallelism = o.parallelism();
    for (const stored::SubtaskState& t : o.subtasks()) {
      if (t.subtask() < 0 || t.subtask() >= o.parallelism()) {
        throw InputError(fmt::format("{}: operator '{}' lists subtask {} of {}", where, o.name(),
                                     t.subtask(), o.parallelism()));
      }
      SubtaskStateHandle& s = op.subtasks.emplace_back();
      s.subtask = t.subtask();
      s.keyed_state = t.keyed_state();
      s.operator_state = t.operator_state();
      s.shared_files.assign(t.shared_files().begin(), t.shared_files().end());
      s.files.assign(t.files().begin(), t.files().end());
    }
  }
  return metadata;
}

std::string encode_batch_plan(const BatchPlan& plan) {
  stored::BatchPlan m;
  m.set_format_version(kBatchLogFormatVersion);
  m.set_id(plan.id);
  m.set_planned_at(plan.planned_at);
  for (const SourceSlices& source : plan.sources) {
    stored::SourceSlices& s = *m.add_sources();
    s.set_source(source.source);
    for (const SplitSlice& slice : source.slices) {
      stored::SplitSlice& t = *s.add_slices();
      t.set_split(slice.split);
      t.set_start(slice.start);
      t.set_end(slice.end);
      t.set_available(slice.available);
      t.set_ended(slice.ended);
    }
  }
  return m.SerializeAsString();
}

BatchPlan decode_batch_plan(std::string_view bytes, const std::string& where) {
  auto m = parse<stored::BatchPlan>(bytes, where, "batch plan", kBatchLogFormatVersion);
  BatchPlan plan;
  plan.id = m.id();
  plan.planned_at = m.planned_at();
  for (const stored::SourceSlices& s : m.sources()) {
    SourceSlices& source = plan.sources.emplace_back();
    source.source = s.source();
    for (const stored::SplitSlice& t : s.slices()) {
      if (t.start() > t.end() || t.end() > t.available()) {  // positions are the source's own
        throw InputError(fmt::format("{}: batch plan with the slice [{}, {}) of {} for split {}",
                                     where, t.start(), t.end(), t.available(), t.split()));
      }
      source.slices.push_back(SplitSlice{t.split(), t.start(), t.end(), t.available(), t.ended()});
    }
  }
  return plan;
}

std::string encode_batch_commit(const BatchCommit& commit) {
  stored::BatchCommit m;
  m.set_format_version(kBatchLogFormatVersion);
  m.set_id(commit.id);
  m.set_committed_at(commit.committed_at);
  return m.SerializeAsString();
}

BatchCommit decode_batch_commit(std::string_view bytes, const std::string& where) {
  auto m = parse<stored::BatchCommit>(bytes, where, "batch commit record", kBatchLogFormatVersion);
  return BatchCommit{m.id(), m.committed_at()};
}

}  // namespace sluice
