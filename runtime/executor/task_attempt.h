// One attempt at running a job's tasks that are placed in this process: the
// execution plan, one thread per task, and the job control they share. The
// embedded local cluster runs every task of a job in one attempt; a task
// manager runs an attempt per deployment it receives, with the tasks of its
// own slots (runtime/graph/execution_plan.h).
//
// Threading: built, started, waited on and joined by one owner thread;
// cancel() and mailbox() from any thread. Lifecycle: construct (builds the
// plan) -> attach_checkpoints? -> start -> wait_all_done* -> join -> destroy.
// The destructor cancels and joins if the owner did not.
#pragma once

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "runtime/graph/execution_plan.h"

namespace sluice {

class TaskAttempt {
 public:
  // Throws UsageError when the graph or the options are invalid.
  TaskAttempt(const JobGraph& graph, const PlanOptions& options, const Clock& clock);
  ~TaskAttempt();
  TaskAttempt(const TaskAttempt&) = delete;
  TaskAttempt& operator=(const TaskAttempt&) = delete;

  // Every local task stores its snapshots through `checkpoints`, as task
  // number plan().task_index[i] of the job.
  void attach_checkpoints(CheckpointParticipation* checkpoints);
  // The mailbox of the job's task number `index`, or null when it runs
  // elsewhere.
  TaskMailbox* mailbox(size_t index) const;

  void start();
  bool wait_all_done(std::chrono::milliseconds max_wait) {
    return control_.wait_all_done(max_wait);
  }
  void cancel() { control_.cancel(); }
  void join();

  const ExecutionPlan& plan() const { return plan_; }
  JobControl& control() { return control_; }
  JobMetrics& metrics() { return *metrics_; }
  // Outlives the attempt, for a final report after it ended.
  std::shared_ptr<const JobMetrics> shared_metrics() const { return metrics_; }

 private:
  JobControl control_;
  std::shared_ptr<JobMetrics> metrics_ = std::make_shared<JobMetrics>();
  ExecutionPlan plan_;
  std::vector<std::thread> threads_;
};

}  // namespace sluice
