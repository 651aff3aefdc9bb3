#include "connectors/generator_source.h"

#include <cmath>

#include "runtime/core/errors.h"

namespace sluice {

void validate_generator_options(const GeneratorOptions& options) {
  if (!std::isfinite(options.rate) || options.rate < 0) {
    throw UsageError("generator source: rate must be a number >= 0");
  }
  if (options.splits < 0 || options.splits > kMaxSplits) {
    throw UsageError("generator source: splits must be in 0.." + std::to_string(kMaxSplits));
  }
}

void check_generator_position(const std::string& source, int split,
                              const GeneratorSplitPosition& position) {
  if (position.next % static_cast<uint64_t>(position.split_count) != static_cast<uint64_t>(split)) {
    throw corrupt_position(source, split,
                           "index " + std::to_string(position.next) + " is not one of the split's");
  }
}

}  // namespace sluice
