// One command's command line, parsed by CLI11: every command declares its
// options here, so all of them accept "--opt VALUE" and "--opt=VALUE",
// generate their --help from the declarations, and report a bad command
// line as one UsageError line (the caller exits 2). Values Sluice reads
// the same way everywhere (durations, counts, sizes, ports, choices) have
// typed adders whose errors name the option and the value.
//
// Threading: one command line on one thread. Lifecycle: construct ->
// declare options (targets must outlive parse) -> parse() once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "runtime/core/errors.h"
#include "runtime/core/time.h"

namespace sluice {

class CommandLine {
 public:
  // `command` as typed after `sluice`; `description` heads the help.
  CommandLine(std::string command, const std::string& description);

  CLI::App& app() { return app_; }
  const std::string& command() const { return command_; }

  // A string option, or a flag.
  CLI::Option* text(const std::string& name, std::string& target, const std::string& help);
  CLI::Option* flag(const std::string& name, bool& target, const std::string& help);
  // A duration like 200ms or 5s, greater than zero.
  CLI::Option* duration(const std::string& name, DurationMs& target, const std::string& help);
  // An integer >= 1 (int: at most INT_MAX).
  CLI::Option* count(const std::string& name, int64_t& target, const std::string& help);
  CLI::Option* count(const std::string& name, int& target, const std::string& help);
  CLI::Option* count(const std::string& name, size_t& target, const std::string& help);
  // A size in bytes: a positive integer with k, m or g, like 512m.
  CLI::Option* byte_size(const std::string& name, size_t& target, const std::string& help);
  // A TCP port, 0-65535; and HOST:PORT.
  CLI::Option* port(const std::string& name, uint16_t& target, const std::string& help);
  CLI::Option* host_port(const std::string& name, std::pair<std::string, uint16_t>& target,
                         const std::string& help);
  // An option whose value `parse(name, text)` reads (throwing UsageError
  // for a bad one) into `target`; `type_name` shows in the help.
  template <class T, class Parse>
  CLI::Option* parsed(const std::string& name, T& target, Parse parse, const std::string& type_name,
                      const std::string& help) {
    auto assign = [&target, name, parse](const std::string& text) {
      target = static_cast<T>(parse(name, text));
    };
    return app_.add_option_function<std::string>(name, std::move(assign), help)
        ->type_name(type_name);
  }

  // One of `choices` (name, value); the error says the value is not a
  // `what` and lists the choices.
  template <class T>
  CLI::Option* choice(const std::string& name, T& target,
                      std::vector<std::pair<std::string, T>> choices, const std::string& what,
                      const std::string& help);
  // An option given any number of times, one value each.
  CLI::Option* repeated(const std::string& name, std::vector<std::string>& target,
                        const std::string& help);
  // The one positional argument a command takes (a second one is an
  // unexpected argument); the command checks that it was given.
  CLI::Option* positional(const std::string& name, std::string& target, const std::string& help);

  // Parses `args` (the arguments after the command's name). Returns false
  // when --help was given: the help went to stdout and the command should
  // end with exit 0. Throws UsageError for an unknown option, a missing or
  // malformed value, or an unexpected argument.
  bool parse(const std::vector<std::string>& args);

  // After parse(): `args` as given, without the options named in `drop`
  // (with their values) and without the positional argument `positional`
  // (its first occurrence that is not an option's value). What a command
  // passes on to another, e.g. a job's options to the job manager.
  std::vector<std::string> arguments_except(const std::vector<std::string>& args,
                                            const std::vector<std::string>& drop,
                                            const std::string& positional);

 private:
  std::string command_;
  CLI::App app_;
};

// The value of `option` as an integer >= 1; throws UsageError naming it.
int64_t parse_positive_count(const std::string& option, const std::string& text);
// As parse_positive_count, and at most INT_MAX.
int parse_positive_int(const std::string& option, const std::string& text);
// A duration like "200ms" or "5s", greater than zero.
DurationMs parse_positive_duration(const std::string& option, const std::string& text);
// A size in bytes: a positive integer with a suffix k, m or g (KiB, MiB,
// GiB), like "512m".
size_t parse_byte_size(const std::string& option, const std::string& text);
// A port 0-65535, or "off" (-1).
int parse_port_or_off(const std::string& option, const std::string& text);
// Splits "host:port" ("[::1]:port" for IPv6) as given to `option`. Throws
// UsageError("--jobmanager: expected HOST:PORT, got 'x'").
std::pair<std::string, uint16_t> parse_host_port(std::string_view option, std::string_view text);

template <class T>
CLI::Option* CommandLine::choice(const std::string& name, T& target,
                                 std::vector<std::pair<std::string, T>> choices,
                                 const std::string& what, const std::string& help) {
  std::string names;      // for the error: "a, b"
  std::string type_name;  // for the help: "a|b"
  for (const auto& [choice_name, value] : choices) {
    names += (names.empty() ? "" : ", ") + choice_name;
    type_name += (type_name.empty() ? "" : "|") + choice_name;
  }
  auto assign = [&target, name, names, what,
                 choices = std::move(choices)](const std::string& text) {
    for (const auto& [choice_name, value] : choices) {
      if (choice_name == text) {
        target = value;
        return;
      }
    }
    throw UsageError(name + ": '" + text + "' is not a " + what + " (" + names + ")");
  };
  return app_.add_option_function<std::string>(name, std::move(assign), help)->type_name(type_name);
}

}  // namespace sluice
