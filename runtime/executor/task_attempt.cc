#include "runtime/executor/task_attempt.h"

#include <pthread.h>

namespace sluice {
namespace {

void name_thread(const std::string& task_name) {
  std::string short_name = task_name.substr(0, 15);
  pthread_setname_np(pthread_self(), short_name.c_str());
}

}  // namespace

TaskAttempt::TaskAttempt(const JobGraph& graph, const PlanOptions& options, const Clock& clock)
    : plan_(build_execution_plan(graph, options, control_, *metrics_, clock)) {}

TaskAttempt::~TaskAttempt() {
  if (threads_.empty()) return;
  cancel();
  join();
}

void TaskAttempt::attach_checkpoints(CheckpointParticipation* checkpoints) {
  for (size_t i = 0; i < plan_.tasks.size(); ++i) {
    plan_.tasks[i]->attach(checkpoints, plan_.task_index[i]);
  }
}

TaskMailbox* TaskAttempt::mailbox(size_t index) const {
  for (size_t i = 0; i < plan_.tasks.size(); ++i) {
    if (plan_.task_index[i] == index) return plan_.tasks[i].get();
  }
  return nullptr;
}

void TaskAttempt::start() {
  control_.expect_tasks(plan_.tasks.size());
  threads_.reserve(plan_.tasks.size());
  for (auto& task : plan_.tasks) {
    Task* t = task.get();
    threads_.emplace_back([t] {
      name_thread(t->name());
      t->run();
    });
  }
}

void TaskAttempt::join() {
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

}  // namespace sluice
