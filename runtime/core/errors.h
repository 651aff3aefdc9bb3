// Error types. Sluice reports errors with exceptions, typed by domain, so the
// command line can choose an exit code and a restart strategy can tell a bad
// configuration (never retried) from a failing external system (retried).
//
// Every message is one line that says what went wrong and where.
#pragma once

#include <stdexcept>
#include <string>

namespace sluice {

enum class ErrorKind {
  kUsage,     // bad command line, option or parameter: exit code 2, not retried
  kInput,     // malformed input data (a record, a file): not retried
  kUser,      // an exception thrown by user code inside an operator
  kExternal,  // an external system failed (file system, broker): retryable
  kInternal,  // a bug in Sluice itself
  kCancelled  // the job was cancelled; not an error of its own
};

const char* error_kind_name(ErrorKind kind);

class SluiceError : public std::runtime_error {
 public:
  SluiceError(ErrorKind kind, const std::string& message)
      : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }
  bool retryable() const { return kind_ == ErrorKind::kExternal; }

 private:
  ErrorKind kind_;
};

// A bad option, parameter or topology name.
class UsageError : public SluiceError {
 public:
  explicit UsageError(const std::string& message) : SluiceError(ErrorKind::kUsage, message) {}
};

// A malformed record or input file; the message names the place ("file:line").
class InputError : public SluiceError {
 public:
  explicit InputError(const std::string& message) : SluiceError(ErrorKind::kInput, message) {}
};

// An external system failed (I/O, network).
class ExternalError : public SluiceError {
 public:
  explicit ExternalError(const std::string& message) : SluiceError(ErrorKind::kExternal, message) {}
};

// Thrown into blocked threads when their job is cancelled or has failed.
class CancelledError : public SluiceError {
 public:
  CancelledError() : SluiceError(ErrorKind::kCancelled, "cancelled") {}
};

}  // namespace sluice
