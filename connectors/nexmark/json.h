// The Nexmark dump format: one JSON object per line with a "type" field of
// "person", "auction" or "bid" and the event's fields under their names.
// The writer (nlohmann-json) appends one line (without newline); the parser
// (simdjson) reads one line strictly (an object, string and integer
// values, every field present once, no other) and throws InputError
// "PATH:LINE: ..." for anything else, with any valid JSON escape in
// strings. Pure functions; the parser keeps a buffer per thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "connectors/file_source_support.h"
#include "connectors/nexmark/events.h"

namespace sluice::nexmark {

void append_event_json(const Event& event, std::string& out);

// Blank lines yield nullopt.
std::optional<Event> parse_event_json(std::string_view line, const LineLocation& where);

}  // namespace sluice::nexmark
