#include "connectors/kafka/kafka_source.h"

#include <fmt/format.h>

namespace sluice::kafka {

void MalformedRecords::on_error(const InputError& error, const KafkaRecord& record) {
  const std::string location = record.location();
  std::string_view what = error.what();
  // The deserializer's record.error() already names the record.
  if (what.starts_with(location) && what.substr(location.size()).starts_with(": ")) {
    what.remove_prefix(location.size() + 2);
  }
  if (dead_letters_ != nullptr) {
    dead_letters_->send(record, what);
  } else if (policy_ == OnError::kFail) {
    throw InputError(fmt::format("{}: {}: {}", source_, location, what));
  }
  if (counter_.skipped() == 0) first_ = fmt::format("{}: {}", location, what);
  // A location-free LineLocation: MalformedLines only counts here.
  counter_.on_error(error, LineLocation{});
}

std::string MalformedRecords::note() const {
  const uint64_t skipped = counter_.skipped();
  if (skipped == 0) return "";
  if (dead_letters_ != nullptr) {
    return fmt::format("{}: sent {} malformed record{} to dead-letter topic {} (first at {})",
                       source_, skipped, skipped == 1 ? "" : "s", dead_letters_->topic(), first_);
  }
  return fmt::format("{}: skipped {} malformed record{} (first at {})", source_, skipped,
                     skipped == 1 ? "" : "s", first_);
}

}  // namespace sluice::kafka
