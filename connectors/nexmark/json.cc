#include "connectors/nexmark/json.h"

#include <charconv>
#include <map>

#include <fmt/format.h>

namespace sluice::nexmark {
namespace {

void append_string(std::string& out, std::string_view text) {
  out.push_back('"');
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<int>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

class JsonWriter {
 public:
  JsonWriter(std::string& out, std::string_view type) : out_(out) {
    out_ += "{\"type\":";
    append_string(out_, type);
  }
  JsonWriter& field(std::string_view name, int64_t value) {
    key(name);
    fmt::format_int digits(value);
    out_.append(digits.data(), digits.size());
    return *this;
  }
  JsonWriter& field(std::string_view name, const std::string& value) {
    key(name);
    append_string(out_, value);
    return *this;
  }
  void close() { out_.push_back('}'); }

 private:
  void key(std::string_view name) {
    out_.push_back(',');
    append_string(out_, name);
    out_.push_back(':');
  }
  std::string& out_;
};

// A flat JSON object's fields: strings (unescaped) or integers.
struct JsonValue {
  bool is_string = false;
  std::string text;
  int64_t number = 0;
};

class FlatJsonParser {
 public:
  FlatJsonParser(std::string_view text, const LineLocation& where) : s_(text), where_(where) {}

  std::map<std::string, JsonValue, std::less<>> parse() {
    std::map<std::string, JsonValue, std::less<>> fields;
    skip_space();
    expect('{');
    skip_space();
    if (peek() == '}') {
      ++i_;
    } else {
      while (true) {
        skip_space();
        std::string name = parse_string();
        skip_space();
        expect(':');
        skip_space();
        JsonValue value = parse_value();
        if (!fields.emplace(std::move(name), std::move(value)).second) fail("duplicate field");
        skip_space();
        if (peek() == ',') {
          ++i_;
          continue;
        }
        expect('}');
        break;
      }
    }
    skip_space();
    if (i_ != s_.size()) fail("trailing characters after the object");
    return fields;
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw where_.error(fmt::format("bad JSON at column {}: {}", i_ + 1, what));
  }

 private:
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
  }
  void expect(char c) {
    if (peek() != c) fail(fmt::format("expected '{}'", c));
    ++i_;
  }
  JsonValue parse_value() {
    JsonValue value;
    if (peek() == '"') {
      value.is_string = true;
      value.text = parse_string();
      return value;
    }
    const char* begin = s_.data() + i_;
    auto [end, ec] = std::from_chars(begin, s_.data() + s_.size(), value.number);
    if (ec != std::errc() || end == begin) fail("expected a string or an integer");
    i_ += static_cast<size_t>(end - begin);
    return value;
  }
  std::string parse_string() {
    expect('"');
    std::string out;
    while (true) {
      if (i_ >= s_.size()) fail("unterminated string");
      char c = s_[i_++];
      if (c == '"') return out;
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (i_ >= s_.size()) fail("unterminated escape");
      char e = s_[i_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'n': out.push_back('\n'); break;
        case 't': out.push_back('\t'); break;
        case 'r': out.push_back('\r'); break;
        case 'u': out.push_back(parse_unicode_escape()); break;
        default: fail("unknown escape");
      }
    }
  }
  // Only \u00XX escapes (ASCII control characters) are accepted.
  char parse_unicode_escape() {
    if (s_.size() - i_ < 4 || s_.substr(i_, 2) != "00") fail("unsupported \\u escape");
    int code = 0;
    auto [end, ec] = std::from_chars(s_.data() + i_ + 2, s_.data() + i_ + 4, code, 16);
    if (ec != std::errc() || end != s_.data() + i_ + 4) fail("bad \\u escape");
    i_ += 4;
    return static_cast<char>(code);
  }

  std::string_view s_;
  const LineLocation& where_;
  size_t i_ = 0;
};

class FieldReader {
 public:
  FieldReader(std::map<std::string, JsonValue, std::less<>>& fields, const LineLocation& where)
      : fields_(fields), where_(where) {}
  int64_t number(std::string_view name) {
    const JsonValue& v = get(name);
    if (v.is_string) throw where_.error(fmt::format("field '{}' must be an integer", name));
    return v.number;
  }
  std::string text(std::string_view name) {
    JsonValue& v = get(name);
    if (!v.is_string) throw where_.error(fmt::format("field '{}' must be a string", name));
    return std::move(v.text);
  }
  void expect_no_more(size_t used) const {
    if (fields_.size() != used) throw where_.error("unexpected extra fields");
  }

 private:
  JsonValue& get(std::string_view name) {
    auto it = fields_.find(name);
    if (it == fields_.end()) throw where_.error(fmt::format("missing field '{}'", name));
    return it->second;
  }
  std::map<std::string, JsonValue, std::less<>>& fields_;
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
  if (const Person* p = event.person()) {
    JsonWriter(out, "person")
        .field("id", p->id)
        .field("name", p->name)
        .field("email", p->email)
        .field("credit_card", p->credit_card)
        .field("city", p->city)
        .field("state", p->state)
        .field("date_time", p->date_time)
        .field("extra", p->extra)
        .close();
  } else if (const Auction* a = event.auction()) {
    JsonWriter(out, "auction")
        .field("id", a->id)
        .field("item_name", a->item_name)
        .field("description", a->description)
        .field("initial_bid", a->initial_bid)
        .field("reserve", a->reserve)
        .field("date_time", a->date_time)
        .field("expires", a->expires)
        .field("seller", a->seller)
        .field("category", a->category)
        .field("extra", a->extra)
        .close();
  } else {
    const Bid& b = *event.bid();
    JsonWriter(out, "bid")
        .field("auction", b.auction)
        .field("bidder", b.bidder)
        .field("price", b.price)
        .field("channel", b.channel)
        .field("url", b.url)
        .field("date_time", b.date_time)
        .field("extra", b.extra)
        .close();
  }
}

std::optional<Event> parse_event_json(std::string_view line, const LineLocation& where) {
  if (line.find_first_not_of(" \t") == std::string_view::npos) return std::nullopt;
  auto fields = FlatJsonParser(line, where).parse();
  FieldReader reader(fields, where);
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
