// A task mailbox for coordinator tests: it records every mail the
// coordinator posts. With an offset log directory, a run mail also records
// whether the batch's plan was already logged when it was posted.
//
// Threading: post() from the coordinator's callers (also its background
// thread); the test reads after the calls it made returned.
#pragma once

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/coordinator/coordinator.h"

namespace sluice::testing {

class RecordingMailbox final : public TaskMailbox {
 public:
  explicit RecordingMailbox(std::string offsets_dir = "") : offsets_dir_(std::move(offsets_dir)) {}

  void post(Mail mail) override {
    std::lock_guard lock(mutex_);
    if (mail.kind == MailKind::kRunBatch && !offsets_dir_.empty()) {
      plan_logged_before_run.push_back(
          std::filesystem::exists(offsets_dir_ + "/" + std::to_string(mail.checkpoint)));
    }
    mails.push_back(std::move(mail));
  }
  std::vector<MailKind> kinds() {
    std::lock_guard lock(mutex_);
    std::vector<MailKind> k;
    for (const Mail& m : mails) k.push_back(m.kind);
    return k;
  }
  size_t triggers() {
    std::lock_guard lock(mutex_);
    return std::count_if(mails.begin(), mails.end(),
                         [](const Mail& m) { return m.kind == MailKind::kTriggerCheckpoint; });
  }
  const Mail& last() const { return mails.back(); }

  std::vector<Mail> mails;
  std::vector<bool> plan_logged_before_run;

 private:
  std::mutex mutex_;
  std::string offsets_dir_;
};

}  // namespace sluice::testing
