#include "runtime/job/registry.h"

#include <charconv>

#include "runtime/core/errors.h"

namespace sluice {

Params::Params(std::map<std::string, std::string> values, const std::vector<ParamSpec>& specs)
    : values_(std::move(values)), specs_(specs) {
  for (const auto& [name, value] : values_) {
    if (spec(name) == nullptr) {
      std::string known;
      for (const ParamSpec& s : specs_) known += (known.empty() ? "" : ", ") + s.name;
      throw UsageError("unknown parameter '" + name + "' (known: " + known + ")");
    }
  }
  for (const ParamSpec& s : specs_) {
    if (s.required && !has(s.name)) {
      throw UsageError("missing parameter '" + s.name + "' (--set " + s.name + "=...)");
    }
  }
}

const ParamSpec* Params::spec(const std::string& name) const {
  for (const ParamSpec& s : specs_) {
    if (s.name == name) return &s;
  }
  for (const ParamSpec& s : specs_) {
    bool wildcard = s.name.size() > 2 && s.name.compare(s.name.size() - 2, 2, ".*") == 0;
    if (wildcard && name.size() > s.name.size() - 1 &&
        name.compare(0, s.name.size() - 1, s.name, 0, s.name.size() - 1) == 0) {
      return &s;
    }
  }
  return nullptr;
}

std::map<std::string, std::string> Params::with_prefix(const std::string& prefix) const {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : values_) {
    if (name.compare(0, prefix.size(), prefix) == 0) out.emplace(name, value);
  }
  return out;
}

bool Params::has(const std::string& name) const {
  auto it = values_.find(name);
  return it != values_.end() && !it->second.empty();
}

std::string Params::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it != values_.end()) return it->second;
  const ParamSpec* s = spec(name);
  if (s != nullptr && !s->default_value.empty()) return s->default_value;
  throw UsageError("missing parameter '" + name + "' (--set " + name + "=...)");
}

std::string Params::get_or(const std::string& name, const std::string& fallback) const {
  return has(name) ? values_.at(name) : fallback;
}

int64_t Params::get_int(const std::string& name) const {
  std::string text = get(name);
  int64_t value = 0;
  auto [rest, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || rest != text.data() + text.size()) {
    throw UsageError("parameter '" + name + "': '" + text + "' is not an integer");
  }
  return value;
}

double Params::get_double(const std::string& name) const {
  std::string text = get(name);
  try {
    size_t used = 0;
    double value = std::stod(text, &used);
    if (used == text.size()) return value;
  } catch (const std::exception&) {
  }
  throw UsageError("parameter '" + name + "': '" + text + "' is not a number");
}

DurationMs Params::get_duration(const std::string& name) const {
  std::string text = get(name);
  std::optional<DurationMs> d = parse_duration(text);
  if (!d) {
    throw UsageError("parameter '" + name + "': '" + text +
                     "' is not a duration (like 250ms, 5s, 2m)");
  }
  return *d;
}

}  // namespace sluice
