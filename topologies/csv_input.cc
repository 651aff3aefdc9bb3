#include "topologies/csv_input.h"

namespace sluice::topologies {

OnError on_error_param(const Params& params) {
  try {
    return parse_on_error(params.get("on-error"));
  } catch (const UsageError& e) {
    throw UsageError(std::string("parameter 'on-error': ") + e.what());
  }
}

}  // namespace sluice::topologies
