// Parsing of `sluice run` options into a plan and topology parameters.
// Pure functions; throw UsageError with a one-line message.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "runtime/core/time.h"
#include "runtime/job/job_options.h"

namespace sluice {

RunOptions parse_run_options(const std::vector<std::string>& args);

// The value of `option` as an integer >= 1; throws UsageError naming it.
int64_t parse_positive_count(const std::string& option, const std::string& text);
// A duration like "200ms" or "5s", greater than zero; throws UsageError
// naming `option`.
DurationMs parse_positive_duration(const std::string& option, const std::string& text);
// A size in bytes: a positive integer with a suffix k, m or g (KiB, MiB,
// GiB), like "512m"; throws UsageError naming `option`.
size_t parse_byte_size(const std::string& option, const std::string& text);
// As parse_positive_count, and at most INT_MAX.
int parse_positive_int(const std::string& option, const std::string& text);

// Walks a command's arguments; every command parses its options with it, so
// they all accept "--opt VALUE" and "--opt=VALUE" alike:
//   std::string option = arg.substr(0, arg.find('='));
//   if (option == "--n") n = parse_positive_int(option, cursor.value(option, arg));
class ArgCursor {
 public:
  explicit ArgCursor(const std::vector<std::string>& args) : args_(args) {}
  bool done() const { return i_ >= args_.size(); }
  const std::string& next() { return args_[i_++]; }
  // How many arguments were taken so far.
  size_t position() const { return i_; }
  // The value of `option`, given as "--opt VALUE" or "--opt=VALUE" (`arg`
  // is the argument that named the option); throws UsageError when missing.
  std::string value(const std::string& option, const std::string& arg);

 private:
  const std::vector<std::string>& args_;
  size_t i_ = 0;
};

extern const char* const kRunUsage;

}  // namespace sluice
