// The registry of named topologies. A topology is a function that builds a
// graph from parameters; it registers under a name with SLUICE_TOPOLOGY and
// declares its parameters, so `sluice topologies` can list them and `run`
// can reject unknown ones. Registration happens during static
// initialisation; lookups afterwards are read-only.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "runtime/api/topology.h"
#include "runtime/core/time.h"

namespace sluice {

struct ParamSpec {
  // A name ending in ".*" stands for every parameter with that prefix
  // ("kafka.*": settings passed through to a client).
  std::string name;
  std::string description;
  std::string default_value;  // empty: no default
  bool required = false;
};

// The --set parameters of one run, validated against the topology's specs.
class Params {
 public:
  Params(std::map<std::string, std::string> values, const std::vector<ParamSpec>& specs);

  bool has(const std::string& name) const;
  // The value, or the spec's default; throws UsageError when neither exists.
  std::string get(const std::string& name) const;
  std::string get_or(const std::string& name, const std::string& fallback) const;
  int64_t get_int(const std::string& name) const;
  double get_double(const std::string& name) const;
  DurationMs get_duration(const std::string& name) const;
  // The given parameters whose names start with `prefix`, by full name.
  std::map<std::string, std::string> with_prefix(const std::string& prefix) const;
  // The job's default parallelism (from --parallelism).
  int parallelism() const { return parallelism_; }
  void set_parallelism(int p) { parallelism_ = p; }
  // How often the job commits: --checkpoint-interval, or in micro-batch
  // mode the --trigger interval (a minute for back-to-back batches); 0:
  // no checkpoints.
  DurationMs checkpoint_interval() const { return checkpoint_interval_; }
  void set_checkpoint_interval(DurationMs interval) { checkpoint_interval_ = interval; }

 private:
  const ParamSpec* spec(const std::string& name) const;

  std::map<std::string, std::string> values_;
  std::vector<ParamSpec> specs_;
  int parallelism_ = 1;
  DurationMs checkpoint_interval_ = 0;
};

struct TopologySpec {
  std::string name;
  std::string description;
  std::vector<ParamSpec> params;
  std::function<void(Topology&, const Params&)> build;
};

// Specs by name, filled during static initialisation.
template <class Spec>
class Registry {
 public:
  static Registry& instance() {
    static Registry registry;
    return registry;
  }
  // False when the name is taken.
  bool add(Spec spec) {
    std::string name = spec.name;
    return specs_.emplace(std::move(name), std::move(spec)).second;
  }
  const Spec* find(const std::string& name) const {
    auto it = specs_.find(name);
    return it == specs_.end() ? nullptr : &it->second;
  }
  std::vector<const Spec*> all() const {
    std::vector<const Spec*> out;
    for (const auto& [name, spec] : specs_) out.push_back(&spec);
    return out;
  }

 private:
  std::map<std::string, Spec> specs_;
};

using TopologyRegistry = Registry<TopologySpec>;

#define SLUICE_CONCAT_INNER(a, b) a##b
#define SLUICE_CONCAT(a, b) SLUICE_CONCAT_INNER(a, b)
// Registers a TopologySpec at static initialisation.
#define SLUICE_TOPOLOGY(...)                                               \
  static const bool SLUICE_CONCAT(sluice_topology_registered_, __LINE__) = \
      ::sluice::TopologyRegistry::instance().add(__VA_ARGS__)

}  // namespace sluice
