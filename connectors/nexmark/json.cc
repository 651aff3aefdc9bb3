#include "connectors/nexmark/json.h"

#include <simdjson.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace sluice::nexmark {
namespace {

// Field order as written: type first, then the event's fields.
using OrderedJson = nlohmann::ordered_json;

OrderedJson to_json(const Person& p) {
  return OrderedJson{{"type", "person"},
                     {"id", p.id},
                     {"name", p.name},
                     {"email", p.email},
                     {"credit_card", p.credit_card},
                     {"city", p.city},
                     {"state", p.state},
                     {"date_time", p.date_time},
                     {"extra", p.extra}};
}

OrderedJson to_json(const Auction& a) {
  return OrderedJson{{"type", "auction"},
                     {"id", a.id},
                     {"item_name", a.item_name},
                     {"description", a.description},
                     {"initial_bid", a.initial_bid},
                     {"reserve", a.reserve},
                     {"date_time", a.date_time},
                     {"expires", a.expires},
                     {"seller", a.seller},
                     {"category", a.category},
                     {"extra", a.extra}};
}

OrderedJson to_json(const Bid& b) {
  return OrderedJson{{"type", "bid"},
                     {"auction", b.auction},
                     {"bidder", b.bidder},
                     {"price", b.price},
                     {"channel", b.channel},
                     {"url", b.url},
                     {"date_time", b.date_time},
                     {"extra", b.extra}};
}

// Reads the fields of one parsed line, strictly: each field present once,
// of its type, and no other.
class FieldReader {
 public:
  FieldReader(simdjson::dom::object object, const LineLocation& where)
      : object_(object), where_(where) {}

  int64_t number(const char* name) {
    int64_t value = 0;
    if (get(name).get_int64().get(value) != simdjson::SUCCESS) {
      throw where_.error(fmt::format("field '{}' must be an integer", name));
    }
    return value;
  }
  std::string text(const char* name) {
    std::string_view value;
    if (get(name).get_string().get(value) != simdjson::SUCCESS) {
      throw where_.error(fmt::format("field '{}' must be a string", name));
    }
    return std::string(value);
  }
  // Fails when the object has fields besides the `used` ones (a duplicate
  // counts as another field).
  void expect_no_more(size_t used) const {
    if (object_.size() != used) throw where_.error("unexpected extra fields");
  }

 private:
  simdjson::dom::element get(const char* name) {
    simdjson::dom::element value;
    if (object_.at_key(name).get(value) != simdjson::SUCCESS) {
      throw where_.error(fmt::format("missing field '{}'", name));
    }
    return value;
  }

  simdjson::dom::object object_;
  const LineLocation& where_;
};

Person read_person(FieldReader& f) {
  Person p;
  p.id = f.number("id");
  p.name = f.text("name");
  p.email = f.text("email");
  p.credit_card = f.text("credit_card");
  p.city = f.text("city");
  p.state = f.text("state");
  p.date_time = f.number("date_time");
  p.extra = f.text("extra");
  f.expect_no_more(9);
  return p;
}

Auction read_auction(FieldReader& f) {
  Auction a;
  a.id = f.number("id");
  a.item_name = f.text("item_name");
  a.description = f.text("description");
  a.initial_bid = f.number("initial_bid");
  a.reserve = f.number("reserve");
  a.date_time = f.number("date_time");
  a.expires = f.number("expires");
  a.seller = f.number("seller");
  a.category = f.number("category");
  a.extra = f.text("extra");
  f.expect_no_more(11);
  return a;
}

Bid read_bid(FieldReader& f) {
  Bid b;
  b.auction = f.number("auction");
  b.bidder = f.number("bidder");
  b.price = f.number("price");
  b.channel = f.text("channel");
  b.url = f.text("url");
  b.date_time = f.number("date_time");
  b.extra = f.text("extra");
  f.expect_no_more(8);
  return b;
}

}  // namespace

void append_event_json(const Event& event, std::string& out) {
  OrderedJson json = std::visit([](const auto& body) { return to_json(body); }, event.body);
  out += json.dump();
}

std::optional<Event> parse_event_json(std::string_view line, const LineLocation& where) {
  if (line.find_first_not_of(" \t") == std::string_view::npos) return std::nullopt;
  // One parser per thread: it keeps its buffers from line to line.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = parser.parse(line.data(), line.size()).get(root)) {
    throw where.error(fmt::format("bad JSON: {}", simdjson::error_message(error)));
  }
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    throw where.error("bad JSON: not an object");
  }
  FieldReader reader(object, where);
  std::string type = reader.text("type");
  Event event;
  if (type == "person") {
    event.body = read_person(reader);
  } else if (type == "auction") {
    event.body = read_auction(reader);
  } else if (type == "bid") {
    event.body = read_bid(reader);
  } else {
    throw where.error("unknown event type '" + type + "'");
  }
  return event;
}

}  // namespace sluice::nexmark
