#include "topologies/csv_input.h"

namespace sluice::topologies {

OnError on_error_param(const Params& params, std::string* dead_letter_topic) {
  constexpr std::string_view kDeadLetter = "dead-letter:";
  std::string text = params.get("on-error");
  if (text.compare(0, kDeadLetter.size(), kDeadLetter) == 0) {
    if (dead_letter_topic == nullptr) {
      throw UsageError("parameter 'on-error': dead-letter:TOPIC needs a kafka: input");
    }
    *dead_letter_topic = text.substr(kDeadLetter.size());
    if (dead_letter_topic->empty()) {
      throw UsageError("parameter 'on-error': dead-letter: needs a topic");
    }
    return OnError::kSkip;
  }
  try {
    return parse_on_error(params.get("on-error"));
  } catch (const UsageError& e) {
    throw UsageError(std::string("parameter 'on-error': ") + e.what());
  }
}

}  // namespace sluice::topologies
