// Tests of the control-plane transport (runtime/cluster/rpc.h) and message
// validation (runtime/cluster/validate.h). Real sockets on 127.0.0.1;
// every wait is a bounded wait on a condition, never a sleep.
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "runtime/cli/command_line.h"
#include "runtime/cluster/alignment_board.h"
#include "runtime/cluster/frame.h"
#include "runtime/cluster/rpc.h"
#include "runtime/cluster/validate.h"
#include "runtime/core/errors.h"

namespace sluice {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

constexpr auto kWait = 2000ms;  // bound of every wait that should succeed

// ---- one valid example of every message ----

pb::JobSpec spec() {
  pb::JobSpec s;
  s.set_topology("wordcount");
  s.add_args("--parallelism=2");
  s.add_args("--set=window=10s");
  return s;
}

pb::Peer* add_peer(pb::DeployTasks* d, const std::string& id, int port) {
  pb::Peer* p = d->add_peers();
  p->set_id(id);
  p->set_host("127.0.0.1");
  p->set_data_port(port);
  return p;
}

template <class Message>
void add_slice(Message* m, int split, int64_t start, int64_t end, int64_t available) {
  pb::SplitSlice* s = m->add_slices();
  s->set_split(split);
  s->set_start(start);
  s->set_end(end);
  s->set_available(available);
}

std::vector<pb::Envelope> valid_examples() {
  std::vector<pb::Envelope> out;
  auto next = [&] { return &out.emplace_back(); };
  {
    auto* m = next()->mutable_register_task_manager();
    m->set_id("tm-1");
    m->set_host("127.0.0.1");
    m->set_data_port(6001);
    m->set_slots(4);
  }
  next()->mutable_registered()->set_heartbeat_interval_ms(1000);
  {
    auto* m = next()->mutable_heartbeat();
    m->set_id("tm-1");
    auto* watermark = m->add_source_watermarks();
    watermark->set_job("wordcount-1");
    watermark->set_attempt(0);
    watermark->set_holds(true);
    watermark->set_watermark(1767225600000);
  }
  {
    auto* m = next()->mutable_deploy_tasks();
    m->set_job("wordcount-1");
    m->set_attempt(2);
    m->set_job_number(1);
    *m->mutable_spec() = spec();
    m->set_checkpoint_root("ck");
    m->set_restore_path("ck/wordcount-1/chk-3");
    m->set_last_checkpoint_id(3);
    for (const char* owner : {"tm-1", "tm-2", "tm-1"}) m->add_slot_owner(owner);
    add_peer(m, "tm-1", 6001);
    add_peer(m, "tm-2", 6002);
  }
  {
    auto* m = next()->mutable_cancel_tasks();
    m->set_job("wordcount-1");
    m->set_attempt(2);
  }
  {
    auto* m = next()->mutable_checkpoint_mail();
    m->set_job("wordcount-1");
    m->set_attempt(2);
    m->set_task(5);
    m->set_kind(pb::MAIL_RUN_BATCH);
    m->set_checkpoint(4);
    add_slice(m, 0, 100, 200, 250);
    add_slice(m, 1, 7, 7, 7);
  }
  {
    auto* m = next()->mutable_batch_slices();
    m->set_job("wordcount-1");
    m->set_attempt(2);
    m->set_task(5);
    m->set_batch(4);
    m->set_input(1);
    add_slice(m, 3, 0, 10, 10);
  }
  {
    auto* m = next()->mutable_checkpoint_ack();
    m->set_job("wordcount-1");
    m->set_attempt(2);
    m->set_task(5);
    m->set_checkpoint(4);
    pb::StateHandle* h = m->add_operators();
    h->set_name("count");
    h->set_subtask(1);
    h->set_parallelism(2);
    h->set_keyed_state("count-1.keyed");
    h->add_files("000012.sst");
    h->add_shared_files("count-1-000010.sst");
    m->set_bytes_written(100);
    m->set_bytes_total(300);
    m->set_synchronous_ms(3);
  }
  {
    auto* m = next()->mutable_task_status();
    m->set_job("wordcount-1");
    m->set_attempt(2);
    m->set_task(5);
    m->set_state(pb::TASK_FAILED);
    m->set_message("boom\nwith a second line");
    m->set_error_kind(static_cast<int>(ErrorKind::kUser));
  }
  {
    auto* m = next()->mutable_submit_job();
    *m->mutable_spec() = spec();
    m->set_wait(true);
  }
  next()->mutable_submit_reply()->set_job("wordcount-1");
  next()->mutable_list_jobs();
  {
    auto* info = next()->mutable_job_list()->add_jobs();
    info->set_job("wordcount-1");
    info->set_topology("wordcount");
    info->set_state("running");
    info->set_attempt(2);
    info->set_last_checkpoint(3);
  }
  next()->mutable_list_task_managers();
  {
    auto* info = next()->mutable_task_manager_list()->add_task_managers();
    info->set_id("tm-1");
    info->set_host("10.0.0.2");
    info->set_data_port(6124);
    info->set_slots(2);
    info->set_free_slots(1);
    info->set_heartbeat_age_ms(250);
  }
  next()->mutable_cancel_job()->set_job("wordcount-1");
  {
    auto* m = next()->mutable_trigger_checkpoint();
    m->set_job("wordcount-1");
    m->set_savepoint(true);
    m->set_savepoint_dir("/var/lib/sluice/savepoints");
  }
  {
    auto* m = next()->mutable_stop_job();
    m->set_job("wordcount-1");
    m->set_savepoint_dir("savepoints");
  }
  {
    auto* m = next()->mutable_checkpoint_reply();
    m->set_job("wordcount-1");
    m->set_checkpoint(4);
    m->set_path("ck/wordcount-1/chk-4");
  }
  {
    auto* m = next()->mutable_job_status();
    m->set_job("wordcount-1");
    m->set_state("finished");
    m->set_checkpoints_completed(3);
    m->set_last_checkpoint(3);
    m->set_savepoint("/var/lib/sluice/savepoints/savepoint-wordcount-1-3");
  }
  next()->mutable_error_reply()->set_message("no job 'x'");
  return out;
}

pb::Envelope example(pb::Envelope::BodyCase body) {
  for (pb::Envelope& e : valid_examples()) {
    if (e.body_case() == body) return e;
  }
  throw std::logic_error("no example");
}

pb::Envelope heartbeat(const std::string& id) {
  pb::Envelope e;
  e.mutable_heartbeat()->set_id(id);
  return e;
}

// ---- validation ----

// Each task manager learns the minimum of the others, never its own; an
// older attempt's report changes nothing, a newer one starts afresh.
TEST(AlignmentBoard, ExchangesTheOtherTaskManagersMinimum) {
  AlignmentBoard board;
  EXPECT_EQ(board.exchange("tm-1", 0, 500), std::nullopt) << "nobody else reported";
  EXPECT_EQ(board.exchange("tm-2", 0, 900), 500);
  EXPECT_EQ(board.exchange("tm-1", 0, 700), 900);
  EXPECT_EQ(board.exchange("tm-3", 0, std::nullopt), 700) << "an idle one holds nothing back";
  EXPECT_EQ(board.exchange("tm-2", 0, 950), 700);
  EXPECT_EQ(board.exchange("tm-1", 1, 100), std::nullopt) << "attempt 1 starts an empty board";
  EXPECT_EQ(board.exchange("tm-2", 0, 5), 100) << "attempt 0's report is not recorded";
  EXPECT_EQ(board.exchange("tm-3", 1, 200), 100);
}

TEST(ValidateEnvelope, AcceptsAValidExampleOfEveryMessage) {
  std::set<int> bodies;
  for (const pb::Envelope& e : valid_examples()) {
    EXPECT_NO_THROW(validate_envelope(e)) << e.DebugString();
    bodies.insert(e.body_case());
  }
  EXPECT_EQ(static_cast<int>(bodies.size()),
            pb::Envelope::descriptor()->oneof_decl(0)->field_count());
}

struct Mutation {
  pb::Envelope::BodyCase body;
  std::function<void(pb::Envelope&)> mutate;
  std::string field;  // the message must name it
};

void expect_rejected(const std::vector<Mutation>& mutations) {
  for (const Mutation& m : mutations) {
    pb::Envelope e = example(m.body);
    m.mutate(e);
    try {
      validate_envelope(e);
      ADD_FAILURE() << "accepted, expected a complaint about " << m.field << ": "
                    << e.ShortDebugString();
    } catch (const InputError& error) {
      EXPECT_NE(std::string(error.what()).find(m.field + ":"), std::string::npos)
          << "'" << error.what() << "' does not name " << m.field;
      EXPECT_EQ(std::string(error.what()).find('\n'), std::string::npos) << error.what();
    }
  }
}

using E = pb::Envelope;

TEST(ValidateEnvelope, ChecksBatchSlices) {
  expect_rejected({
      {E::kCheckpointMail,
       [](E& e) { e.mutable_checkpoint_mail()->mutable_slices(0)->set_end(99); },
       "CheckpointMail.slices[0].end"},
      {E::kCheckpointMail,
       [](E& e) { e.mutable_checkpoint_mail()->mutable_slices(1)->set_available(6); },
       "CheckpointMail.slices[1].available"},
      {E::kCheckpointMail,
       [](E& e) { e.mutable_checkpoint_mail()->mutable_slices(0)->set_split(-1); },
       "CheckpointMail.slices[0].split"},
      {E::kBatchSlices, [](E& e) { e.mutable_batch_slices()->set_batch(0); }, "BatchSlices.batch"},
      {E::kBatchSlices, [](E& e) { e.mutable_batch_slices()->set_input(3); }, "BatchSlices.input"},
      {E::kBatchSlices, [](E& e) { e.mutable_batch_slices()->set_job("a/b"); }, "BatchSlices.job"},
      {E::kBatchSlices,
       [](E& e) {
         for (int i = 0; i <= kMaxSlicesPerSource; ++i) e.mutable_batch_slices()->add_slices();
       },
       "BatchSlices.slices"},
  });
}

TEST(ValidateEnvelope, RejectsAnEmptyEnvelope) {
  try {
    validate_envelope(pb::Envelope());
    FAIL() << "accepted";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "Envelope.body: not set");
  }
}

TEST(ValidateEnvelope, ChecksIdsHostsPortsAndSlots) {
  expect_rejected({
      {E::kRegisterTaskManager, [](E& e) { e.mutable_register_task_manager()->clear_id(); },
       "RegisterTaskManager.id"},
      {E::kRegisterTaskManager,
       [](E& e) { e.mutable_register_task_manager()->set_id(std::string(257, 'a')); },
       "RegisterTaskManager.id"},
      {E::kRegisterTaskManager,
       [](E& e) { e.mutable_register_task_manager()->set_host("host\nname"); },
       "RegisterTaskManager.host"},
      {E::kRegisterTaskManager, [](E& e) { e.mutable_register_task_manager()->set_data_port(0); },
       "RegisterTaskManager.data_port"},
      {E::kRegisterTaskManager,
       [](E& e) { e.mutable_register_task_manager()->set_data_port(70000); },
       "RegisterTaskManager.data_port"},
      {E::kRegisterTaskManager, [](E& e) { e.mutable_register_task_manager()->set_slots(0); },
       "RegisterTaskManager.slots"},
      {E::kRegisterTaskManager, [](E& e) { e.mutable_register_task_manager()->set_slots(1025); },
       "RegisterTaskManager.slots"},
      {E::kRegistered, [](E& e) { e.mutable_registered()->set_heartbeat_interval_ms(0); },
       "Registered.heartbeat_interval_ms"},
      {E::kHeartbeat, [](E& e) { e.mutable_heartbeat()->set_id("tm\x7f"); }, "Heartbeat.id"},
  });
}

TEST(ValidateEnvelope, ChecksJobNamesAttemptsAndTasks) {
  expect_rejected({
      {E::kCancelTasks, [](E& e) { e.mutable_cancel_tasks()->clear_job(); }, "CancelTasks.job"},
      {E::kCancelTasks, [](E& e) { e.mutable_cancel_tasks()->set_job("../etc"); },
       "CancelTasks.job"},
      {E::kCancelJob, [](E& e) { e.mutable_cancel_job()->set_job("a/b"); }, "CancelJob.job"},
      {E::kTriggerCheckpoint, [](E& e) { e.mutable_trigger_checkpoint()->set_job("."); },
       "TriggerCheckpoint.job"},
      {E::kStopJob, [](E& e) { e.mutable_stop_job()->set_job("../x"); }, "StopJob.job"},
      {E::kHeartbeat, [](E& e) { e.mutable_heartbeat()->add_tasks()->set_job(""); },
       "Heartbeat.tasks[0].job"},
      {E::kHeartbeat,
       [](E& e) {
         pb::AttemptMetrics& m = *e.mutable_heartbeat()->add_attempts();
         m.set_job("wordcount-1");
         m.set_attempt(-1);
       },
       "Heartbeat.attempts[0].attempt"},
      {E::kCancelTasks, [](E& e) { e.mutable_cancel_tasks()->set_attempt(-1); },
       "CancelTasks.attempt"},
      {E::kHeartbeat,
       [](E& e) { e.mutable_heartbeat()->mutable_source_watermarks(0)->set_job("../x"); },
       "Heartbeat.source_watermarks[0].job"},
      {E::kHeartbeat,
       [](E& e) { e.mutable_heartbeat()->mutable_source_watermarks(0)->set_attempt(-1); },
       "Heartbeat.source_watermarks[0].attempt"},
      {E::kTaskStatus, [](E& e) { e.mutable_task_status()->set_task(-1); }, "TaskStatus.task"},
      {E::kJobStatus, [](E& e) { e.mutable_job_status()->clear_state(); }, "JobStatus.state"},
      {E::kJobList, [](E& e) { e.mutable_job_list()->mutable_jobs(0)->set_attempt(-2); },
       "JobList.jobs[0].attempt"},
      {E::kTaskManagerList,
       [](E& e) { e.mutable_task_manager_list()->mutable_task_managers(0)->set_data_port(70000); },
       "TaskManagerList.task_managers[0].data_port"},
      {E::kJobStatus, [](E& e) { e.mutable_job_status()->set_error_kind(99); },
       "JobStatus.error_kind"},
      {E::kSubmitJob, [](E& e) { e.mutable_submit_job()->set_name("../up"); }, "SubmitJob.name"},
      {E::kSubmitReply, [](E& e) { e.mutable_submit_reply()->clear_job(); }, "SubmitReply.job"},
      {E::kErrorReply, [](E& e) { e.mutable_error_reply()->clear_message(); },
       "ErrorReply.message"},
  });
  pb::Envelope refused;
  refused.mutable_submit_reply()->set_error("no topology 'x'");
  EXPECT_NO_THROW(validate_envelope(refused));
}

TEST(ValidateEnvelope, ChecksJobSpecs) {
  expect_rejected({
      {E::kSubmitJob, [](E& e) { e.mutable_submit_job()->clear_spec(); },
       "SubmitJob.spec.topology"},
      {E::kSubmitJob, [](E& e) { e.mutable_submit_job()->mutable_spec()->set_topology("a\tb"); },
       "SubmitJob.spec.topology"},
      {E::kSubmitJob,
       [](E& e) {
         for (int i = 0; i <= kMaxJobArgs; ++i)
           e.mutable_submit_job()->mutable_spec()->add_args("-x");
       },
       "SubmitJob.spec.args"},
      {E::kDeployTasks,
       [](E& e) {
         e.mutable_deploy_tasks()->mutable_spec()->set_args(1,
                                                            std::string(kMaxJobArgChars + 1, 'a'));
       },
       "DeployTasks.spec.args[1]"},
  });
}

TEST(ValidateEnvelope, ChecksDeployments) {
  expect_rejected({
      {E::kDeployTasks, [](E& e) { e.mutable_deploy_tasks()->clear_slot_owner(); },
       "DeployTasks.slot_owner"},
      {E::kDeployTasks,
       [](E& e) {
         for (int i = 0; i < 4097; ++i) e.mutable_deploy_tasks()->add_slot_owner("tm-1");
       },
       "DeployTasks.slot_owner"},
      {E::kDeployTasks, [](E& e) { e.mutable_deploy_tasks()->set_slot_owner(2, "tm-9"); },
       "DeployTasks.slot_owner[2]"},
      {E::kDeployTasks, [](E& e) { add_peer(e.mutable_deploy_tasks(), "tm-1", 6003); },
       "DeployTasks.peers[2].id"},
      {E::kDeployTasks, [](E& e) { e.mutable_deploy_tasks()->mutable_peers(1)->clear_host(); },
       "DeployTasks.peers[1].host"},
      {E::kDeployTasks, [](E& e) { e.mutable_deploy_tasks()->mutable_peers(0)->set_data_port(-5); },
       "DeployTasks.peers[0].data_port"},
      {E::kDeployTasks, [](E& e) { e.mutable_deploy_tasks()->set_last_checkpoint_id(-1); },
       "DeployTasks.last_checkpoint_id"},
      {E::kDeployTasks,
       [](E& e) { e.mutable_deploy_tasks()->set_restore_path(std::string(5000, 'a')); },
       "DeployTasks.restore_path"},
  });
}

TEST(ValidateEnvelope, ChecksCheckpointIdsAndMailKinds) {
  auto mail = [](pb::MailKind kind, int64_t checkpoint) {
    return [=](E& e) {
      e.mutable_checkpoint_mail()->set_kind(kind);
      e.mutable_checkpoint_mail()->set_checkpoint(checkpoint);
    };
  };
  expect_rejected({
      {E::kCheckpointMail, mail(pb::MAIL_TRIGGER, 0), "CheckpointMail.checkpoint"},
      {E::kCheckpointMail, mail(pb::MAIL_COMPLETE, 0), "CheckpointMail.checkpoint"},
      {E::kCheckpointMail, mail(pb::MAIL_ABORT, -1), "CheckpointMail.checkpoint"},
      {E::kCheckpointMail, mail(static_cast<pb::MailKind>(8), 4), "CheckpointMail.kind"},
      {E::kCheckpointMail,
       [](E& e) {
         e.mutable_checkpoint_mail()->set_checkpoint_kind(
             static_cast<pb::CheckpointKindMessage>(3));
       },
       "CheckpointMail.checkpoint_kind"},
      {E::kStopJob, [](E& e) { e.mutable_stop_job()->set_savepoint_dir(std::string(5000, 'a')); },
       "StopJob.savepoint_dir"},
      {E::kCheckpointAck, [](E& e) { e.mutable_checkpoint_ack()->set_checkpoint(0); },
       "CheckpointAck.checkpoint"},
      {E::kCheckpointAck, [](E& e) { e.mutable_checkpoint_ack()->set_alignment_ms(-1); },
       "CheckpointAck.alignment_ms"},
      {E::kCheckpointReply, [](E& e) { e.mutable_checkpoint_reply()->set_checkpoint(-1); },
       "CheckpointReply.checkpoint"},
  });
  pb::Envelope abort = example(E::kCheckpointMail);
  mail(pb::MAIL_ABORT, 0)(abort);
  EXPECT_NO_THROW(validate_envelope(abort));
}

TEST(ValidateEnvelope, ChecksStateHandles) {
  auto handle = [](E& e) { return e.mutable_checkpoint_ack()->mutable_operators(0); };
  auto with = [&](std::function<void(pb::StateHandle*)> change) {
    return [=](E& e) { change(handle(e)); };
  };
  std::string op = "CheckpointAck.operators[0].";
  expect_rejected({
      {E::kCheckpointAck, with([](auto* h) { h->clear_name(); }), op + "name"},
      {E::kCheckpointAck, with([](auto* h) { h->set_subtask(-1); }), op + "subtask"},
      {E::kCheckpointAck, with([](auto* h) { h->set_subtask(2); }), op + "subtask"},
      {E::kCheckpointAck, with([](auto* h) { h->set_parallelism(0); }), op + "parallelism"},
      {E::kCheckpointAck, with([](auto* h) { h->set_keyed_state("../x.keyed"); }),
       op + "keyed_state"},
      {E::kCheckpointAck, with([](auto* h) { h->set_operator_state("/etc/passwd"); }),
       op + "operator_state"},
      {E::kCheckpointAck, with([](auto* h) { h->set_files(0, ""); }), op + "files[0]"},
      {E::kCheckpointAck, with([](auto* h) { h->add_files("sub/dir.sst"); }), op + "files[1]"},
      {E::kCheckpointAck, with([](auto* h) { h->set_shared_files(0, ".."); }),
       op + "shared_files[0]"},
  });
}

TEST(ValidateEnvelope, ChecksEnumsAndErrorKinds) {
  expect_rejected({
      {E::kTaskStatus,
       [](E& e) { e.mutable_task_status()->set_state(static_cast<pb::TaskState>(9)); },
       "TaskStatus.state"},
      {E::kTaskStatus, [](E& e) { e.mutable_task_status()->set_error_kind(-1); },
       "TaskStatus.error_kind"},
      {E::kTaskStatus,
       [](E& e) {
         e.mutable_task_status()->set_error_kind(static_cast<int>(ErrorKind::kCancelled) + 1);
       },
       "TaskStatus.error_kind"},
  });
}

// ---- transport ----

// What a server saw, for tests to wait on.
struct ServerEvents {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::string> close_reasons;
  int messages = 0;

  // Waits for a close whose reason contains `text`.
  bool wait_for_close(const std::string& text) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, kWait, [&] {
      for (const std::string& reason : close_reasons) {
        if (reason.find(text) != std::string::npos) return true;
      }
      return false;
    });
  }
};

// A server that echoes every message, except heartbeats from "silent"
// (ignored) and "close" (the server closes the connection), and answers a
// registration with Registered followed by a deployment.
class RpcTest : public ::testing::Test {
 protected:
  RpcTest() : server_(io_, "127.0.0.1", 0, handlers()) {}

  RpcHandlers handlers() {
    RpcHandlers h;
    h.on_message = [this](const std::shared_ptr<ControlConnection>& connection, pb::Envelope&& e) {
      {
        std::lock_guard lock(events_.mutex);
        ++events_.messages;
      }
      events_.changed.notify_all();
      if (e.has_heartbeat() && e.heartbeat().id() == "silent") return;
      if (e.has_heartbeat() && e.heartbeat().id() == "close") return connection->close();
      if (e.has_register_task_manager()) {
        connection->send(example(E::kRegistered));
        connection->send(example(E::kDeployTasks));
        return;
      }
      connection->send(e);
    };
    h.on_close = [this](const std::shared_ptr<ControlConnection>&, const std::string& reason) {
      {
        std::lock_guard lock(events_.mutex);
        events_.close_reasons.push_back(reason);
      }
      events_.changed.notify_all();
    };
    return h;
  }

  uint16_t port() const { return server_.port(); }

  ServerEvents events_;
  IoThread io_;
  RpcServer server_;
};

// A plain blocking socket that sends whatever the test wants.
class RawSocket {
 public:
  explicit RawSocket(uint16_t port) : socket_(context_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }

  void write(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }

  // True when the peer closes (EOF or reset) within `timeout`; data it
  // sends meanwhile is skipped.
  bool closed_within(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char buffer[4096];
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd fd{socket_.native_handle(), POLLIN, 0};
      int ready = ::poll(&fd, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) return false;
      if (::recv(socket_.native_handle(), buffer, sizeof(buffer), 0) <= 0) return true;
    }
  }

 private:
  asio::io_context context_;
  tcp::socket socket_;
};

std::string frame(FrameKind kind, const std::string& payload) {
  std::string out;
  append_frame_header(out, kind, static_cast<uint32_t>(payload.size()));
  return out + payload;
}

std::string control_frame(const pb::Envelope& e) {
  return frame(FrameKind::kControl, e.SerializeAsString());
}

TEST_F(RpcTest, EchoesEveryMessage) {
  RpcClient client("127.0.0.1", port(), kWait);
  for (const pb::Envelope& e : valid_examples()) {
    if (e.has_register_task_manager()) continue;  // answered, not echoed: see below
    EXPECT_EQ(client.call(e, kWait).DebugString(), e.DebugString());
  }
}

TEST_F(RpcTest, ServerSendsUnaskedMessagesInOrder) {
  RpcClient client("127.0.0.1", port(), kWait);
  EXPECT_TRUE(client.call(example(E::kRegisterTaskManager), kWait).has_registered());
  std::optional<pb::Envelope> deploy = client.receive(kWait);
  ASSERT_TRUE(deploy);
  EXPECT_EQ(deploy->DebugString(), example(E::kDeployTasks).DebugString());
}

TEST_F(RpcTest, ConnectionHandlersSeeRepliesFromManyThreads) {
  std::mutex mutex;
  std::condition_variable arrived;
  std::multiset<std::string> ids;
  RpcHandlers h;
  h.on_message = [&](const std::shared_ptr<ControlConnection>&, pb::Envelope&& e) {
    std::lock_guard lock(mutex);
    ids.insert(e.heartbeat().id());
    arrived.notify_all();
  };
  auto connection = rpc_connect(io_, "127.0.0.1", port(), h, kWait);
  EXPECT_EQ(connection->peer(), fmt::format("127.0.0.1:{}", port()));
  constexpr int kThreads = 4, kEach = 100;
  std::vector<std::thread> senders;
  for (int t = 0; t < kThreads; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) connection->send(heartbeat(fmt::format("tm-{}-{}", t, i)));
    });
  }
  for (std::thread& s : senders) s.join();
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(arrived.wait_for(lock, kWait, [&] { return ids.size() == kThreads * kEach; }));
    EXPECT_EQ(ids.count("tm-3-99"), 1u);
  }
  connection->close();
  connection->close();
  EXPECT_TRUE(events_.wait_for_close("closed by the peer"));
}

TEST_F(RpcTest, GarbageClosesOnlyTheSendersConnection) {
  RpcClient before("127.0.0.1", port(), kWait);
  EXPECT_TRUE(before.call(heartbeat("tm-1"), kWait).has_heartbeat());
  RawSocket garbage(port());
  garbage.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(garbage.closed_within(kWait));
  EXPECT_TRUE(events_.wait_for_close("not a Sluice frame"));
  EXPECT_TRUE(before.call(heartbeat("tm-1"), kWait).has_heartbeat());
  RpcClient after("127.0.0.1", port(), kWait);
  EXPECT_TRUE(after.call(heartbeat("tm-2"), kWait).has_heartbeat());
}

TEST_F(RpcTest, OversizedFrameIsRefusedBeforeItsPayload) {
  RawSocket peer(port());
  std::string header;
  append_frame_header(header, FrameKind::kControl, kMaxControlFrameBytes + 1);
  peer.write(header);  // and no payload
  EXPECT_TRUE(peer.closed_within(kWait));
  EXPECT_TRUE(
      events_.wait_for_close(fmt::format("frame of {} bytes exceeds the maximum of {} bytes",
                                         kMaxControlFrameBytes + 1, kMaxControlFrameBytes)));
}

TEST_F(RpcTest, MalformedFramesAndMessagesCloseTheConnection) {
  std::string wrong_version = control_frame(heartbeat("tm-1"));
  wrong_version[5] = 9;
  pb::Envelope no_slots = example(E::kRegisterTaskManager);
  no_slots.mutable_register_task_manager()->set_slots(0);
  pb::Envelope bad_port = example(E::kRegisterTaskManager);
  bad_port.mutable_register_task_manager()->set_data_port(70000);
  struct Case {
    std::string bytes;
    std::string reason;
  };
  std::vector<Case> cases = {
      {wrong_version, "protocol version 9 not supported"},
      {frame(FrameKind::kData, "abc"), "a frame of kind 3 on a control connection"},
      {frame(FrameKind::kControl, std::string(5, '\xff')), "unparsable control message of 5 bytes"},
      {frame(FrameKind::kControl, ""), "invalid message: Envelope.body: not set"},
      {control_frame(no_slots), "invalid message: RegisterTaskManager.slots"},
      {control_frame(bad_port), "invalid message: RegisterTaskManager.data_port"},
      {control_frame(heartbeat("tm-1")).substr(0, 14), "closed by the peer in the middle"},
  };
  RpcClient client("127.0.0.1", port(), kWait);
  for (const Case& c : cases) {
    {
      RawSocket peer(port());
      peer.write(c.bytes);
      // A truncated frame: the server waits for the rest until we leave.
      bool truncated = c.reason.starts_with("closed by the peer");
      if (!truncated) {
        EXPECT_TRUE(peer.closed_within(kWait)) << c.reason;
      }
    }
    EXPECT_TRUE(events_.wait_for_close(c.reason)) << c.reason;
    EXPECT_TRUE(client.call(heartbeat("tm-1"), kWait).has_heartbeat()) << c.reason;
  }
  std::lock_guard lock(events_.mutex);
  EXPECT_EQ(events_.messages, static_cast<int>(cases.size()));  // the client's heartbeats only
}

TEST_F(RpcTest, ClientCallTimesOut) {
  RpcClient client("127.0.0.1", port(), kWait);
  try {
    client.call(heartbeat("silent"), 50ms);
    FAIL() << "no timeout";
  } catch (const ExternalError& e) {
    EXPECT_EQ(std::string(e.what()),
              fmt::format("no reply from 127.0.0.1:{} within 50 ms", port()));
  }
  EXPECT_FALSE(client.receive(10ms));
  EXPECT_TRUE(client.call(heartbeat("tm-1"), kWait).has_heartbeat());
}

TEST_F(RpcTest, ClientReportsAClosedConnection) {
  RpcClient client("127.0.0.1", port(), kWait);
  try {
    client.call(heartbeat("close"), kWait);
    FAIL() << "no error";
  } catch (const ExternalError& e) {
    EXPECT_EQ(std::string(e.what()),
              fmt::format("connection to 127.0.0.1:{} closed: closed by the peer", port()));
  }
  EXPECT_TRUE(events_.wait_for_close("closed locally"));
}

TEST_F(RpcTest, StoppingTheServerClosesItsConnections) {
  RpcClient client("127.0.0.1", port(), kWait);
  EXPECT_TRUE(client.call(heartbeat("tm-1"), kWait).has_heartbeat());
  server_.stop();
  {
    std::lock_guard lock(events_.mutex);  // stop() returned after the closes
    EXPECT_EQ(events_.close_reasons, std::vector<std::string>{"closed locally"});
  }
  EXPECT_THROW(client.receive(kWait), ExternalError);
  EXPECT_THROW(RpcClient("127.0.0.1", port(), kWait), ExternalError);
  server_.stop();
}

TEST_F(RpcTest, SendRefusesOversizedMessages) {
  RpcClient client("127.0.0.1", port(), kWait);
  pb::Envelope huge;
  huge.mutable_error_reply()->set_message(std::string(kMaxControlFrameBytes, 'x'));
  EXPECT_THROW(client.send(huge), SluiceError);
  EXPECT_TRUE(client.call(heartbeat("tm-1"), kWait).has_heartbeat());
}

TEST_F(RpcTest, SecondServerOnTheSamePortFails) {
  try {
    RpcServer second(io_, "127.0.0.1", port(), RpcHandlers{});
    FAIL() << "listened twice";
  } catch (const ExternalError& e) {
    EXPECT_TRUE(
        std::string(e.what()).starts_with(fmt::format("cannot listen on 127.0.0.1:{}: ", port())))
        << e.what();
  }
}

TEST(RpcConnect, ClosedPortIsAnExternalError) {
  uint16_t port = 0;
  {
    asio::io_context context;
    tcp::acceptor acceptor(context, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = acceptor.local_endpoint().port();
  }
  IoThread io;
  try {
    rpc_connect(io, "127.0.0.1", port, RpcHandlers{}, kWait);
    FAIL() << "connected";
  } catch (const ExternalError& e) {
    EXPECT_TRUE(std::string(e.what()).starts_with(fmt::format("cannot reach 127.0.0.1:{}: ", port)))
        << e.what();
  }
}

TEST(RpcHostPort, ParsesAndRejects) {
  EXPECT_EQ(parse_host_port("--jobmanager", "localhost:6123"),
            std::make_pair(std::string("localhost"), uint16_t{6123}));
  EXPECT_EQ(parse_host_port("--jobmanager", "[::1]:80"),
            std::make_pair(std::string("::1"), uint16_t{80}));
  for (const char* bad : {"localhost", ":80", "host:", "host:x", "host:80x", "::1:80", "[]:80"}) {
    try {
      parse_host_port("--jobmanager", bad);
      ADD_FAILURE() << bad;
    } catch (const UsageError& e) {
      EXPECT_EQ(std::string(e.what()),
                fmt::format("--jobmanager: expected HOST:PORT, got '{}'", bad));
    }
  }
  EXPECT_THROW(parse_host_port("--jobmanager", "host:0"), UsageError);
  EXPECT_THROW(parse_host_port("--jobmanager", "host:65536"), UsageError);
}

}  // namespace
}  // namespace sluice
