#include "runtime/cluster/validate.h"

#include <algorithm>
#include <set>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "runtime/core/errors.h"
#include "state/key_groups.h"

namespace sluice {
namespace {

// Checks the fields of one message; `where` names it ("DeployTasks",
// "CheckpointAck.operators[2]") so every failure names message and field.
class Fields {
 public:
  explicit Fields(std::string where) : where_(std::move(where)) {}

  const std::string& where() const { return where_; }
  std::string nested(std::string_view field) const { return fmt::format("{}.{}", where_, field); }
  std::string nested(std::string_view field, int index) const {
    return fmt::format("{}.{}[{}]", where_, field, index);
  }

  [[noreturn]] void fail(std::string_view field, std::string_view what) const {
    throw InputError(fmt::format("{}.{}: {}", where_, field, what));
  }

  // An id, host or name: required unless `optional`, at most
  // kMaxNameChars, no control characters.
  void name(std::string_view field, const std::string& value, bool optional = false) const {
    if (value.empty()) {
      if (optional) return;
      fail(field, "empty");
    }
    text(field, value, kMaxNameChars);
  }

  // A string of at most `max_chars` without control characters.
  void text(std::string_view field, const std::string& value, size_t max_chars) const {
    if (value.size() > max_chars) {
      fail(field, fmt::format("{} characters, more than {}", value.size(), max_chars));
    }
    auto control = std::find_if(value.begin(), value.end(), [](char c) {
      return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    });
    if (control != value.end()) {
      fail(field, fmt::format("control character {:#04x} at offset {}",
                              static_cast<unsigned char>(*control), control - value.begin()));
    }
  }

  // A name that becomes one path component (a job's directory, a file in a
  // checkpoint directory).
  void path_component(std::string_view field, const std::string& value,
                      bool optional = false) const {
    name(field, value, optional);
    if (value.find('/') != std::string::npos || value.find('\\') != std::string::npos ||
        value.find("..") != std::string::npos || value == ".") {
      fail(field, fmt::format("'{}' is not a plain file name", value));
    }
  }

  void range(std::string_view field, int64_t value, int64_t min, int64_t max) const {
    if (value < min || value > max)
      fail(field, fmt::format("{} is outside {}..{}", value, min, max));
  }
  void at_least(std::string_view field, int64_t value, int64_t min) const {
    if (value < min) fail(field, fmt::format("{} is less than {}", value, min));
  }
  void count(std::string_view field, int size, int max) const {
    if (size > max) fail(field, fmt::format("{} entries, more than {}", size, max));
  }
  template <class IsValid>
  void enum_value(std::string_view field, int value, IsValid is_valid) const {
    if (!is_valid(value)) fail(field, fmt::format("unknown value {}", value));
  }

 private:
  std::string where_;
};

constexpr int64_t kMaxPort = 65535;
constexpr int64_t kMaxHeartbeatIntervalMs = 3'600'000;
// Attempts one heartbeat may report aligned sources of.
constexpr int kMaxAlignedAttempts = 1000;
// Tasks one heartbeat may report metrics of.
constexpr int kMaxReportedTasks = 100'000;

// A job, attempt, task triple as most task-level messages carry it.
template <class Message>
void check_task_fields(const Fields& f, const Message& m) {
  f.path_component("job", m.job());
  f.at_least("attempt", m.attempt(), 0);
  f.at_least("task", m.task(), 0);
}

void check(const Fields& f, const pb::JobSpec& m) {
  f.name("topology", m.topology());
  f.count("args", m.args_size(), kMaxJobArgs);
  for (int i = 0; i < m.args_size(); ++i) {
    if (m.args(i).size() > kMaxJobArgChars) {
      f.fail(fmt::format("args[{}]", i),
             fmt::format("{} characters, more than {}", m.args(i).size(), kMaxJobArgChars));
    }
  }
}

void check(const Fields& f, const pb::RegisterTaskManager& m) {
  f.name("id", m.id());
  f.name("host", m.host());
  f.range("data_port", m.data_port(), 1, kMaxPort);
  f.range("slots", m.slots(), 1, kMaxSlotsPerTaskManager);
  f.range("metrics_port", m.metrics_port(), 0, kMaxPort);
}

void check(const Fields& f, const pb::Registered& m) {
  f.range("heartbeat_interval_ms", m.heartbeat_interval_ms(), 1, kMaxHeartbeatIntervalMs);
  f.range("heartbeat_timeout_ms", m.heartbeat_timeout_ms(), 0, 24 * kMaxHeartbeatIntervalMs);
}

void check(const Fields& f, const pb::SourceWatermark& m) {
  f.path_component("job", m.job());
  f.at_least("attempt", m.attempt(), 0);
}

void check(const Fields& f, const pb::TaskMetrics& m) {
  check_task_fields(f, m);
}

void check(const Fields& f, const pb::AttemptMetrics& m) {
  f.path_component("job", m.job());
  f.at_least("attempt", m.attempt(), 0);
}

void check(const Fields& f, const pb::Heartbeat& m) {
  f.name("id", m.id());
  f.count("source_watermarks", m.source_watermarks_size(), kMaxAlignedAttempts);
  for (int i = 0; i < m.source_watermarks_size(); ++i) {
    check(Fields(f.nested("source_watermarks", i)), m.source_watermarks(i));
  }
  f.count("tasks", m.tasks_size(), kMaxReportedTasks);
  for (int i = 0; i < m.tasks_size(); ++i) check(Fields(f.nested("tasks", i)), m.tasks(i));
  f.count("attempts", m.attempts_size(), kMaxAlignedAttempts);
  for (int i = 0; i < m.attempts_size(); ++i) {
    check(Fields(f.nested("attempts", i)), m.attempts(i));
  }
}

void check(const Fields& f, const pb::Peer& m) {
  f.name("id", m.id());
  f.name("host", m.host());
  f.range("data_port", m.data_port(), 1, kMaxPort);
}

void check(const Fields& f, const pb::DeployTasks& m) {
  f.path_component("job", m.job());
  f.at_least("attempt", m.attempt(), 0);
  check(Fields(f.nested("spec")), m.spec());
  f.text("checkpoint_root", m.checkpoint_root(), kMaxPathChars);
  f.text("restore_path", m.restore_path(), kMaxPathChars);
  f.at_least("last_checkpoint_id", m.last_checkpoint_id(), 0);
  f.count("peers", m.peers_size(), kMaxSlots);
  std::set<std::string> peers;
  for (int i = 0; i < m.peers_size(); ++i) {
    Fields peer(f.nested("peers", i));
    check(peer, m.peers(i));
    if (!peers.insert(m.peers(i).id()).second) peer.fail("id", "'" + m.peers(i).id() + "' twice");
  }
  if (m.slot_owner_size() == 0) f.fail("slot_owner", "empty");
  f.count("slot_owner", m.slot_owner_size(), kMaxSlots);
  for (int i = 0; i < m.slot_owner_size(); ++i) {
    if (!peers.contains(m.slot_owner(i))) {
      f.fail(fmt::format("slot_owner[{}]", i),
             fmt::format("'{}' is not among the peers", m.slot_owner(i)));
    }
  }
}

void check(const Fields& f, const pb::CancelTasks& m) {
  f.path_component("job", m.job());
  f.at_least("attempt", m.attempt(), 0);
}

// A slice's positions are the source's own; only their order is checked.
void check(const Fields& f, const pb::SplitSlice& m) {
  f.at_least("split", m.split(), 0);
  f.at_least("end", m.end(), m.start());
  f.at_least("available", m.available(), m.end());
}

template <class Message>
void check_slices(const Fields& f, const Message& m) {
  f.count("slices", m.slices_size(), kMaxSlicesPerSource);
  for (int i = 0; i < m.slices_size(); ++i) check(Fields(f.nested("slices", i)), m.slices(i));
}

void check(const Fields& f, const pb::CheckpointMail& m) {
  check_task_fields(f, m);
  f.enum_value("kind", m.kind(), pb::MailKind_IsValid);
  f.enum_value("checkpoint_kind", m.checkpoint_kind(), pb::CheckpointKindMessage_IsValid);
  // An abort may name no checkpoint; the end of batches names the last
  // committed one, none when nothing was read; a drain names none.
  bool may_be_zero = m.kind() == pb::MAIL_ABORT || m.kind() == pb::MAIL_END_OF_BATCHES ||
                     m.kind() == pb::MAIL_DRAIN_SOURCE;
  f.at_least("checkpoint", m.checkpoint(), may_be_zero ? 0 : 1);
  check_slices(f, m);
}

void check(const Fields& f, const pb::BatchSlices& m) {
  check_task_fields(f, m);
  f.at_least("batch", m.batch(), 1);
  check_slices(f, m);
  f.range("input", m.input(), 0, 2);
}

void check(const Fields& f, const pb::StateHandle& m) {
  f.name("name", m.name());
  f.range("parallelism", m.parallelism(), 1, kMaxMaxParallelism);
  f.range("subtask", m.subtask(), 0, m.parallelism() - 1);
  f.path_component("keyed_state", m.keyed_state(), true);
  f.path_component("operator_state", m.operator_state(), true);
  for (int i = 0; i < m.files_size(); ++i)
    f.path_component(fmt::format("files[{}]", i), m.files(i));
  for (int i = 0; i < m.shared_files_size(); ++i) {
    f.path_component(fmt::format("shared_files[{}]", i), m.shared_files(i));
  }
}

void check(const Fields& f, const pb::CheckpointAck& m) {
  check_task_fields(f, m);
  f.at_least("checkpoint", m.checkpoint(), 1);
  for (int i = 0; i < m.operators_size(); ++i) {
    check(Fields(f.nested("operators", i)), m.operators(i));
  }
  f.at_least("synchronous_ms", m.synchronous_ms(), 0);
  f.at_least("alignment_ms", m.alignment_ms(), 0);
  f.at_least("asynchronous_ms", m.asynchronous_ms(), 0);
}

void check(const Fields& f, const pb::TaskStatus& m) {
  check_task_fields(f, m);
  f.enum_value("state", m.state(), pb::TaskState_IsValid);
  f.range("error_kind", m.error_kind(), static_cast<int>(ErrorKind::kUsage),
          static_cast<int>(ErrorKind::kCancelled));
}

void check(const Fields& f, const pb::SubmitJob& m) {
  check(Fields(f.nested("spec")), m.spec());
  f.path_component("name", m.name(), /*optional=*/true);
}

void check(const Fields& f, const pb::SubmitReply& m) {
  f.path_component("job", m.job(), !m.error().empty());
}

void check(const Fields&, const pb::ListJobs&) {}

void check(const Fields& f, const pb::JobInfo& m) {
  f.path_component("job", m.job());
  f.name("topology", m.topology());
  f.name("state", m.state());
  f.at_least("attempt", m.attempt(), -1);  // -1: not deployed yet
  f.at_least("last_checkpoint", m.last_checkpoint(), 0);
}

void check(const Fields& f, const pb::JobList& m) {
  for (int i = 0; i < m.jobs_size(); ++i) check(Fields(f.nested("jobs", i)), m.jobs(i));
}

void check(const Fields&, const pb::ListTaskManagers&) {}

void check(const Fields& f, const pb::TaskManagerInfo& m) {
  f.name("id", m.id());
  f.name("host", m.host());
  f.range("data_port", m.data_port(), 0, 65535);
  f.at_least("slots", m.slots(), 1);
  f.at_least("heartbeat_age_ms", m.heartbeat_age_ms(), 0);
  f.range("metrics_port", m.metrics_port(), 0, kMaxPort);
}

void check(const Fields& f, const pb::TaskManagerList& m) {
  for (int i = 0; i < m.task_managers_size(); ++i) {
    check(Fields(f.nested("task_managers", i)), m.task_managers(i));
  }
}

void check(const Fields& f, const pb::CancelJob& m) {
  f.path_component("job", m.job());
}

void check(const Fields& f, const pb::TriggerCheckpoint& m) {
  f.path_component("job", m.job());
  f.text("savepoint_dir", m.savepoint_dir(), kMaxPathChars);
}

void check(const Fields& f, const pb::StopJob& m) {
  f.path_component("job", m.job());
  f.text("savepoint_dir", m.savepoint_dir(), kMaxPathChars);
  f.range("rescale_to", m.rescale_to(), 0, kMaxMaxParallelism);
  if (m.drain() && m.rescale_to() != 0) f.fail("rescale_to", "a drained job does not resume");
}

void check(const Fields& f, const pb::CheckpointReply& m) {
  f.path_component("job", m.job());
  f.at_least("checkpoint", m.checkpoint(), 0);
  f.text("path", m.path(), kMaxPathChars);
}

void check(const Fields& f, const pb::JobStatus& m) {
  f.path_component("job", m.job());
  f.name("state", m.state());
  f.range("error_kind", m.error_kind(), static_cast<int>(ErrorKind::kUsage),
          static_cast<int>(ErrorKind::kCancelled));
  f.at_least("checkpoints_completed", m.checkpoints_completed(), 0);
  f.at_least("last_checkpoint", m.last_checkpoint(), 0);
  f.at_least("restarts", m.restarts(), 0);
  f.text("savepoint", m.savepoint(), kMaxPathChars);
}

void check(const Fields& f, const pb::ErrorReply& m) {
  if (m.message().empty()) f.fail("message", "empty");
}

template <class Message>
void check_body(const Message& m) {
  check(Fields(Message::descriptor()->name()), m);
}

}  // namespace

void validate_envelope(const pb::Envelope& e) {
  using E = pb::Envelope;
  switch (e.body_case()) {
    case E::kRegisterTaskManager:
      return check_body(e.register_task_manager());
    case E::kRegistered:
      return check_body(e.registered());
    case E::kHeartbeat:
      return check_body(e.heartbeat());
    case E::kDeployTasks:
      return check_body(e.deploy_tasks());
    case E::kCancelTasks:
      return check_body(e.cancel_tasks());
    case E::kCheckpointMail:
      return check_body(e.checkpoint_mail());
    case E::kCheckpointAck:
      return check_body(e.checkpoint_ack());
    case E::kBatchSlices:
      return check_body(e.batch_slices());
    case E::kTaskStatus:
      return check_body(e.task_status());
    case E::kSubmitJob:
      return check_body(e.submit_job());
    case E::kSubmitReply:
      return check_body(e.submit_reply());
    case E::kListJobs:
      return check_body(e.list_jobs());
    case E::kJobList:
      return check_body(e.job_list());
    case E::kListTaskManagers:
      return check_body(e.list_task_managers());
    case E::kTaskManagerList:
      return check_body(e.task_manager_list());
    case E::kCancelJob:
      return check_body(e.cancel_job());
    case E::kTriggerCheckpoint:
      return check_body(e.trigger_checkpoint());
    case E::kStopJob:
      return check_body(e.stop_job());
    case E::kCheckpointReply:
      return check_body(e.checkpoint_reply());
    case E::kJobStatus:
      return check_body(e.job_status());
    case E::kErrorReply:
      return check_body(e.error_reply());
    case E::BODY_NOT_SET:
      break;
  }
  throw InputError("Envelope.body: not set");
}

}  // namespace sluice
