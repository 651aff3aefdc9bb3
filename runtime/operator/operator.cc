#include "runtime/operator/operator.h"

#include <fmt/format.h>

namespace sluice {

void rethrow_as_operator_failure(const OperatorInfo& info) {
  try {
    throw;
  } catch (const OperatorFailure&) {
    throw;
  } catch (const CancelledError&) {
    throw;
  } catch (const SluiceError& e) {
    throw OperatorFailure(e.kind(), fmt::format("operator '{}' (subtask {}/{}): {}", info.name,
                                                info.subtask + 1, info.parallelism, e.what()));
  } catch (const std::exception& e) {
    throw OperatorFailure(ErrorKind::kUser,
                          fmt::format("operator '{}' (subtask {}/{}): {}", info.name,
                                      info.subtask + 1, info.parallelism, e.what()));
  } catch (...) {
    throw OperatorFailure(ErrorKind::kUser,
                          fmt::format("operator '{}' (subtask {}/{}): unknown exception", info.name,
                                      info.subtask + 1, info.parallelism));
  }
}

}  // namespace sluice
