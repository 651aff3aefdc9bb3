// A task: one subtask of one chain of operators, run by one thread as a
// single-threaded mailbox loop (design section 5). Each turn of the loop
// handles mails and fires due processing-time callbacks, then, if every
// output channel has room, takes one element from the next input channel
// with data (or polls the source). It never blocks on output: a task whose
// output is full waits for its wakeup like a task without input, so
// checkpoint triggers, aborts and cancellation reach it under backpressure
// (runtime/network/channel.h). Network writers send full batches at once;
// partial ones go when the input runs dry, after at most a millisecond of
// steady input, and before every control element. Operators never lock:
// everything they see runs on this thread.
//
// Lifecycle: built by the execution plan -> run() on its own thread:
// open operators (tail first) -> loop until every input ended its data or
// the source finished -> finish operators (head first) -> with checkpoints:
// send end-of-data downstream and take part in checkpoints until the job's
// final checkpoint completed (sinks commit their last output through it)
// and every input ended -> send end downstream -> close. A stop savepoint
// (stop without drain) cuts the loop short: once the task took its part,
// it reads, fires and emits nothing more, and after the savepoint completed
// and every input ended it sends end downstream and closes its operators
// without finishing them. Any exception fails the job through JobControl;
// cancellation makes run() return early (operators are still closed,
// never finished).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "runtime/network/reader.h"
#include "runtime/network/writers.h"
#include "runtime/operator/operator.h"
#include "runtime/task/job_control.h"
#include "runtime/task/mailbox.h"
#include "runtime/task/operator_state_handler.h"
#include "runtime/task/source_operator.h"
#include "runtime/task/task_probe.h"
#include "runtime/time/watermark_valve.h"

namespace sluice {

// The pseudo-operator under which a task's in-flight input is stored: the
// head operator's name with this suffix; one state per subtask, the
// encoded vector of each reader's recorded elements (kInFlightFormat).
inline constexpr std::string_view kInFlightSuffix = "#in-flight";
inline constexpr PersistedFormat kInFlightFormat{"in-flight channel data", 1};
// On a cluster, the pseudo-operator under which a task stores what its
// barriers overtook in the sending ends of remote edges: one state per
// subtask of a task with outputs, each (edge index in the job graph,
// consumer subtask, recorded elements) in kOvertakenOutputFormat. A restore
// replays it at the consumer, after that consumer's own in-flight input.
inline constexpr std::string_view kOvertakenOutputSuffix = "#overtaken-output";
inline constexpr PersistedFormat kOvertakenOutputFormat{"overtaken output channel data", 1};
using OvertakenOutput = std::vector<std::tuple<uint32_t, uint32_t, std::string>>;

// How a source task reads: continuously, or the slices of micro-batches.
enum class SourceReading { kContinuous, kBatches };

class Task final : public ProcessingTimeService, public TaskMailbox {
 public:
  Task(std::string name, JobControl& control, JobMetrics& metrics, const Clock& clock,
       StateBackendConfig state_backend);
  ~Task() override;

  // Building (before run): operators in chain order, head first, each with
  // the state it resumes from (or null).
  void add_operator(std::unique_ptr<OperatorBase> op, const OperatorRestore* restore = nullptr);
  // Takes part in checkpoints: `checkpoints` stores its snapshots, and
  // `index` is the task's index at the coordinator, which posts its mails.
  void attach(CheckpointParticipation* checkpoints, size_t index) {
    checkpoints_ = checkpoints;
    checkpoint_index_ = index;
  }
  // Unaligned checkpoints: the first barrier of a checkpoint snapshots the
  // operators at once and overtakes the queued output; no input is held
  // back, and what each input delivers until the checkpoint's mark on it is
  // stored as its in-flight data (runtime/network/reader.h), under the head
  // operator's name with kInFlightSuffix.
  void set_unaligned(bool unaligned) { unaligned_ = unaligned; }
  // Throws UsageError when an input's records cannot be recorded.
  void require_input_codecs() const;
  // After add_reader: what each input had in flight at the restored
  // checkpoint, by reader (InputError when the count does not match).
  void replay_in_flight(const std::vector<std::string>& in_flight);
  // After replay_in_flight: more recorded elements for reader `input`.
  void replay_input(size_t input, std::string_view recorded);
  // On a cluster, unaligned: the task stores kOvertakenOutputSuffix, with
  // what its barriers overtake in these channels (the sending ends of
  // remote edges, Channel::records_overtaken()).
  void store_overtaken_output() { stores_overtaken_output_ = true; }
  void add_overtaken_output(uint32_t edge, uint32_t consumer, ChannelBase* channel) {
    overtaken_outputs_.push_back({edge, consumer, channel});
  }
  bool is_source() const { return source_ != nullptr; }
  // kBatches: the source reads the slices batches hand it.
  void set_source(SourceOperatorBase* source, SourceReading reading) {
    source_ = source;
    if (reading == SourceReading::kBatches) source_->enable_batches();
  }
  void add_reader(std::unique_ptr<ChannelReaderBase> reader) {
    readers_.push_back(std::move(reader));
  }
  void add_writer(std::unique_ptr<NetworkWriterBase> writer) {
    writer->count_records_in(&probe_.records_out);
    writers_.push_back(std::move(writer));
  }
  // How long partial batches may wait in the writers under steady input
  // (Flink's buffer timeout); 1 ms unless set before run().
  void set_max_flush_delay(std::chrono::microseconds delay) { max_flush_delay_ = delay; }
  // Keeps fan-outs and discards alive for the task's lifetime.
  void own(std::unique_ptr<DownstreamBase> piece) { pieces_.push_back(std::move(piece)); }
  TaskWakeup& wakeup() { return wakeup_; }
  const std::string& name() const { return name_; }
  // The task's metrics, read from any thread.
  const TaskProbe& probe() const { return probe_; }

  // The thread body.
  void run();

  // ProcessingTimeService
  Timestamp now() const override { return clock_.now_ms(); }
  const Clock* clock() const override { return &clock_; }
  void schedule(Timestamp at, OperatorBase* op) override { timers_.push({at, op}); }
  void request_wakeup(OperatorBase* op) override;

  // TaskMailbox: from the coordinator's threads.
  void post(Mail mail) override;

 private:
  void open_operators();
  void run_source_loop();
  void run_input_loop();
  void await_final_checkpoint();
  void end_data(size_t input);
  bool poll_inputs();
  void on_control(const Polled& polled, size_t input);
  void advance_watermark(std::optional<Timestamp> watermark);
  void set_idle(bool idle);
  void fire_due_timers();
  // Waits for a wakeup until `until` at most; the time goes to `waited`
  // (the probe's idle time unless said otherwise).
  void wait_for_work(Timestamp until) { wait_for_work(until, probe_.idle_us); }
  void wait_for_work(Timestamp until, Counter& waited);
  void wait_for_output_room();
  void finish_operators();
  void flush_writers();
  void flush_writers_if_due();
  bool output_has_room() const;
  bool poll_barriers();
  void close_operators();
  void check_cancelled() const;
  void process_mails();
  void on_barrier(size_t input, int64_t id, CheckpointKind kind);
  void check_alignment();
  void take_checkpoint(int64_t id, CheckpointKind kind, DurationMs alignment_ms = 0);
  std::vector<OperatorSnapshotBytes> snapshot_operators(int64_t id, CheckpointKind kind);
  SnapshotReport report_for(std::chrono::steady_clock::time_point started,
                            DurationMs alignment_ms) const;
  void start_unaligned(int64_t id, CheckpointKind kind, std::optional<size_t> barrier_input);
  void await_stop();
  void complete_unaligned_if_done();
  void drop_unaligned();
  void on_batch_mail(const Mail& mail);
  void notify_complete(int64_t id);
  bool blocked(size_t input) const { return aligning_ != 0 && barrier_seen_[input]; }

  struct TimerEntry {
    Timestamp at;
    OperatorBase* op;
    bool operator>(const TimerEntry& other) const { return at > other.at; }
  };

  std::string name_;
  JobControl& control_;
  JobMetrics& metrics_;
  TaskProbe probe_;
  ProbeRegistration probe_registration_;  // in metrics_.registry while the task lives
  const Clock& clock_;
  StateBackendConfig state_backend_;
  // Declared before the operators, so destroyed after them: their state
  // handles point into the backends. One per operator, in chain order.
  std::vector<std::unique_ptr<OperatorStateHandler>> state_handlers_;
  std::vector<std::unique_ptr<OperatorBase>> operators_;
  std::vector<const OperatorRestore*> restores_;
  std::vector<std::unique_ptr<OperatorContext>> contexts_;
  SourceOperatorBase* source_ = nullptr;
  std::vector<std::unique_ptr<ChannelReaderBase>> readers_;
  std::vector<std::unique_ptr<NetworkWriterBase>> writers_;
  std::vector<std::unique_ptr<DownstreamBase>> pieces_;
  std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<>> timers_;
  std::unique_ptr<WatermarkValve> valve_;
  std::vector<bool> ended_;  // inputs that sent kEnd
  size_t ended_count_ = 0;
  std::vector<bool> data_ended_;  // inputs that sent kEndOfData or kEnd
  size_t data_ended_count_ = 0;
  size_t next_input_ = 0;
  bool idle_ = false;
  TaskWakeup wakeup_;
  std::chrono::steady_clock::time_point flushed_at_;
  std::chrono::microseconds max_flush_delay_{1000};

  // Checkpoints: the coordinator, mails from it, and barrier alignment.
  CheckpointParticipation* checkpoints_ = nullptr;
  size_t checkpoint_index_ = 0;
  std::mutex mail_mutex_;
  std::vector<Mail> mails_;
  int64_t aligning_ = 0;  // the checkpoint whose barriers are being aligned
  CheckpointKind aligning_kind_ = CheckpointKind::kCheckpoint;
  Timestamp alignment_started_ = 0;  // processing time of its first barrier
  int64_t last_barrier_ = 0;         // the newest checkpoint this task took part in
  int64_t highest_aborted_ = 0;      // checkpoint ids up to it were aborted (ids only grow)
  int64_t batch_ = 0;                // micro-batch: the batch whose slice the source reads
  CheckpointKind batch_kind_ = CheckpointKind::kCheckpoint;  // and what its checkpoint is
  bool input_ended_ = false;  // finished: snapshots from now on hold the final state
  bool final_checkpoint_complete_ = false;
  // Took part in a stop savepoint: reads, fires and emits nothing more, and
  // ends once the savepoint completed (kFinalCheckpointComplete).
  bool stopping_ = false;
  std::vector<bool> barrier_seen_;

  // Unaligned checkpoints: the snapshot taken at the first barrier, waiting
  // for the in-flight data of every input.
  struct PendingUnaligned {
    int64_t id = 0;
    std::vector<OperatorSnapshotBytes> snapshots;
    SnapshotReport report;
  };
  OperatorSnapshotBytes take_overtaken_output() const;
  bool unaligned_ = false;
  std::optional<PendingUnaligned> unaligned_pending_;
  struct OvertakenChannel {
    uint32_t edge;
    uint32_t consumer;
    ChannelBase* channel;
  };
  bool stores_overtaken_output_ = false;
  std::vector<OvertakenChannel> overtaken_outputs_;
};

}  // namespace sluice
