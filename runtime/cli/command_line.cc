#include "runtime/cli/command_line.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <memory>
#include <optional>

#include <fmt/format.h>

namespace sluice {

namespace {

constexpr size_t kHelpWidth = 100;
constexpr size_t kOptionColumn = 34;

// `text` with its lines broken at spaces to at most `width` characters.
std::string wrap(const std::string& text, size_t width) {
  std::string out;
  size_t line_start = 0;
  size_t last_space = std::string::npos;
  for (char c : text) {
    out.push_back(c);
    if (c == '\n') {
      line_start = out.size();
      last_space = std::string::npos;
    } else if (c == ' ') {
      last_space = out.size() - 1;
    }
    if (out.size() - line_start > width && last_space != std::string::npos) {
      out[last_space] = '\n';
      line_start = last_space + 1;
      last_space = std::string::npos;
    }
  }
  return out;
}

// CLI11's help, with descriptions wrapped to the help's width.
class WrappingFormatter : public CLI::Formatter {
 public:
  std::string make_description(const CLI::App* app) const override {
    return wrap(CLI::Formatter::make_description(app), kHelpWidth);
  }
  std::string make_option_desc(const CLI::Option* option) const override {
    return wrap(option->get_description(), kHelpWidth - kOptionColumn);
  }
};

}  // namespace

CommandLine::CommandLine(std::string command, const std::string& description)
    : command_(std::move(command)), app_(description, "sluice " + command_) {
  auto formatter = std::make_shared<WrappingFormatter>();
  formatter->label("Usage", "usage");
  formatter->column_width(kOptionColumn);
  app_.formatter(formatter);
  app_.set_help_flag("-h,--help", "print this text and exit");
  // Left over arguments are reported by parse(), in one line.
  app_.allow_extras();
  // An option given twice takes its last value (scripts append overrides).
  app_.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

CLI::Option* CommandLine::text(const std::string& name, std::string& target,
                               const std::string& help) {
  return app_.add_option(name, target, help);
}

CLI::Option* CommandLine::flag(const std::string& name, bool& target, const std::string& help) {
  return app_.add_flag(name, target, help);
}

CLI::Option* CommandLine::duration(const std::string& name, DurationMs& target,
                                   const std::string& help) {
  return parsed(name, target, parse_positive_duration, "D", help);
}

CLI::Option* CommandLine::count(const std::string& name, int64_t& target, const std::string& help) {
  return parsed(name, target, parse_positive_count, "N", help);
}

CLI::Option* CommandLine::count(const std::string& name, int& target, const std::string& help) {
  return parsed(name, target, parse_positive_int, "N", help);
}

CLI::Option* CommandLine::count(const std::string& name, size_t& target, const std::string& help) {
  return parsed(name, target, parse_positive_int, "N", help);
}

CLI::Option* CommandLine::byte_size(const std::string& name, size_t& target,
                                    const std::string& help) {
  return parsed(name, target, parse_byte_size, "SIZE", help);
}

CLI::Option* CommandLine::port(const std::string& name, uint16_t& target, const std::string& help) {
  auto parse_port = [](const std::string& option, const std::string& text) {
    unsigned port = 0;
    const char* end = text.data() + text.size();
    auto [rest, ec] = std::from_chars(text.data(), end, port);
    if (text.empty() || ec != std::errc() || rest != end || port > 65535) {
      throw UsageError(option + ": '" + text + "' is not a port (0-65535)");
    }
    return static_cast<uint16_t>(port);
  };
  return parsed(name, target, parse_port, "P", help);
}

CLI::Option* CommandLine::host_port(const std::string& name,
                                    std::pair<std::string, uint16_t>& target,
                                    const std::string& help) {
  return parsed(name, target, parse_host_port, "HOST:PORT", help);
}

CLI::Option* CommandLine::repeated(const std::string& name, std::vector<std::string>& target,
                                   const std::string& help) {
  return app_.add_option(name, target, help)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

CLI::Option* CommandLine::positional(const std::string& name, std::string& target,
                                     const std::string& help) {
  return app_.add_option(name, target, help)->type_name("");
}

bool CommandLine::parse(const std::vector<std::string>& args) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 pops from the back
  try {
    app_.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    fmt::print("{}", app_.help());
    return false;
  } catch (const CLI::ParseError& e) {
    std::string message = e.what();
    for (char& c : message) {
      if (c == '\n') c = ' ';
    }
    throw UsageError(command_ + ": " + message + " (see sluice " + command_ + " --help)");
  }
  std::vector<std::string> extras = app_.remaining();
  if (!extras.empty()) {
    const std::string& first = extras.front();
    if (first.rfind("-", 0) == 0) {
      throw UsageError(command_ + ": unknown option '" + first + "' (see sluice " + command_ +
                       " --help)");
    }
    throw UsageError(command_ + ": unexpected argument '" + first + "'");
  }
  return true;
}

std::vector<std::string> CommandLine::arguments_except(const std::vector<std::string>& args,
                                                       const std::vector<std::string>& drop,
                                                       const std::string& positional) {
  std::vector<std::string> kept;
  bool positional_seen = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!positional_seen && arg == positional) {
      positional_seen = true;
      continue;
    }
    std::string name = arg.substr(0, arg.find('='));
    bool dropped = std::find(drop.begin(), drop.end(), name) != drop.end();
    if (!dropped) kept.push_back(arg);
    if (arg.rfind("--", 0) != 0 || arg.find('=') != std::string::npos) continue;
    const CLI::Option* option = app_.get_option_no_throw(arg);
    if (option != nullptr && option->get_expected_min() > 0 && i + 1 < args.size()) {
      ++i;  // the option's value, whatever it reads
      if (!dropped) kept.push_back(args[i]);
    }
  }
  return kept;
}

DurationMs parse_positive_duration(const std::string& option, const std::string& text) {
  std::optional<DurationMs> d = parse_duration(text);
  if (!d || *d <= 0) {
    throw UsageError(option + ": '" + text + "' is not a positive duration (like 200ms, 5s)");
  }
  return *d;
}

int64_t parse_positive_count(const std::string& option, const std::string& text) {
  int64_t value = 0;
  auto [rest, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || rest != text.data() + text.size() || value < 1) {
    throw UsageError(option + ": '" + text + "' is not a positive integer");
  }
  return value;
}

int parse_positive_int(const std::string& option, const std::string& text) {
  int64_t value = parse_positive_count(option, text);
  if (value > std::numeric_limits<int>::max()) {
    throw UsageError(option + ": '" + text + "' is too large");
  }
  return static_cast<int>(value);
}

size_t parse_byte_size(const std::string& option, const std::string& text) {
  auto not_a_size = [&] {
    return UsageError(option + ": '" + text +
                      "' is not a size (a number and k, m or g, like 512m)");
  };
  int shift = 0;
  switch (text.empty() ? '\0' : text.back()) {
    case 'k':
      shift = 10;
      break;
    case 'm':
      shift = 20;
      break;
    case 'g':
      shift = 30;
      break;
    default:
      throw not_a_size();
  }
  int64_t value = 0;
  const char* end = text.data() + text.size() - 1;
  auto [rest, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || rest != end || value < 1) throw not_a_size();
  if (value > (std::numeric_limits<int64_t>::max() >> shift)) {
    throw UsageError(option + ": '" + text + "' is too large");
  }
  return static_cast<size_t>(value) << shift;
}

std::pair<std::string, uint16_t> parse_host_port(std::string_view option, std::string_view text) {
  auto malformed = [&] {
    return UsageError(fmt::format("{}: expected HOST:PORT, got '{}'", option, text));
  };
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) throw malformed();
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') throw malformed();
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    throw malformed();  // a bare IPv6 address: which colon ends it?
  }
  unsigned port = 0;
  const char* end = port_text.data() + port_text.size();
  auto [rest, ec] = std::from_chars(port_text.data(), end, port);
  if (port_text.empty() || ec != std::errc() || rest != end) throw malformed();
  if (port < 1 || port > 65535) {
    throw UsageError(fmt::format("{}: port {} is outside 1..65535 in '{}'", option, port, text));
  }
  return {std::string(host), static_cast<uint16_t>(port)};
}

int parse_port_or_off(const std::string& option, const std::string& text) {
  if (text == "off") return -1;
  size_t used = 0;
  int port = -1;
  try {
    port = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || port < 0 || port > 65535) {
    throw UsageError(fmt::format("{}: expected a port (0-65535) or off, got '{}'", option, text));
  }
  return port;
}

}  // namespace sluice
