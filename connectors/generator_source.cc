#include "connectors/generator_source.h"

#include <cmath>

#include "runtime/core/errors.h"

namespace sluice {

void validate_generator_options(const GeneratorOptions& options) {
  if (!std::isfinite(options.rate) || options.rate < 0) {
    throw UsageError("generator source: rate must be a number >= 0");
  }
  if (options.splits < 0) throw UsageError("generator source: splits must be >= 0");
}

}  // namespace sluice
