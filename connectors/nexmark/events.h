// The Nexmark event model (an online auction): people register, open
// auctions and bid. Field names and meanings follow the benchmark's
// definition; every event has an event time `date_time` in milliseconds.
// Plain values; codecs come from SLUICE_FIELDS.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "runtime/core/codec.h"
#include "runtime/core/time.h"

namespace sluice::nexmark {

struct Person {
  int64_t id = 0;
  std::string name;
  std::string email;
  std::string credit_card;
  std::string city;
  std::string state;
  Timestamp date_time = 0;
  std::string extra;
  SLUICE_FIELDS(id, name, email, credit_card, city, state, date_time, extra)
  friend bool operator==(const Person&, const Person&) = default;
};

struct Auction {
  int64_t id = 0;
  std::string item_name;
  std::string description;
  int64_t initial_bid = 0;
  int64_t reserve = 0;
  Timestamp date_time = 0;
  Timestamp expires = 0;
  int64_t seller = 0;
  int64_t category = 0;
  std::string extra;
  SLUICE_FIELDS(id, item_name, description, initial_bid, reserve, date_time, expires, seller,
                category, extra)
  friend bool operator==(const Auction&, const Auction&) = default;
};

struct Bid {
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t price = 0;
  std::string channel;
  std::string url;
  Timestamp date_time = 0;
  std::string extra;
  SLUICE_FIELDS(auction, bidder, price, channel, url, date_time, extra)
  friend bool operator==(const Bid&, const Bid&) = default;
};

struct Event {
  std::variant<Person, Auction, Bid> body;
  // Processing time (ns, steady clock) at which the source made the event;
  // set only when the benchmark harness measures latency. Not in dumps.
  int64_t ingest_ns = 0;
  SLUICE_FIELDS(body, ingest_ns)

  const Person* person() const { return std::get_if<Person>(&body); }
  const Auction* auction() const { return std::get_if<Auction>(&body); }
  const Bid* bid() const { return std::get_if<Bid>(&body); }
  Timestamp date_time() const {
    return std::visit([](const auto& e) { return e.date_time; }, body);
  }
};

}  // namespace sluice::nexmark
