#include "connectors/nexmark/generator.h"

#include <algorithm>
#include <array>
#include <string_view>

#include <fmt/format.h>

namespace sluice::nexmark {
namespace {

constexpr std::array<std::string_view, 10> kFirstNames = {
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter"};
constexpr std::array<std::string_view, 10> kLastNames = {
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris", "Ng"};
constexpr std::array<std::string_view, 6> kStates = {"AZ", "CA", "ID", "OR", "WA", "WY"};
constexpr std::array<std::string_view, 10> kCities = {
    "Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland",
    "Bend",    "Redmond",     "Seattle",       "Kent",  "Cheyenne"};
constexpr std::array<std::string_view, 4> kHotChannels = {"Google", "Facebook", "Baidu", "Apple"};
constexpr std::array<std::string_view, 8> kWords = {"vintage", "rare",  "antique", "signed",
                                                    "mint",    "boxed", "classic", "limited"};

// Text that padding is cut from: cheaper than drawing every byte.
constexpr std::string_view kFiller =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz"
    "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkjihgfedcba9876543210ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "qwertyuiopasdfghjklzxcvbnmQWERTYUIOPASDFGHJKLZXCVBNMmnbvcxzlkjhgfdsapoiuytrewq1357924680"
    "MNBVCXZLKJHGFDSAPOIUYTREWQ0246813579plokmijnuhbygvtfcrdxeszwaqPLOKMIJNUHBYGVTFCRDXESZWAQ"
    "theQuickBrownFoxJumpsOverTheLazyDogTHEQUICKBROWNFOXJUMPSOVERTHELAZYDOG0192837465sluice";

// Bids per hot auction or bidder: ids rounded down to a multiple of this are hot.
constexpr int64_t kHotRatio = 100;
// Non-hot bids go to one of the most recent auctions.
constexpr int64_t kRecentAuctions = 10'000;

template <size_t N>
std::string_view pick(const std::array<std::string_view, N>& pool, SplitRandom& rng) {
  return pool[rng.below(N)];
}

// Fills `out` so that an event of `base` bytes averages `target` bytes.
void pad(std::string& out, size_t base, size_t target, SplitRandom& rng) {
  out.clear();
  if (base >= target) return;
  size_t want = target - base;
  size_t length = want / 2 + rng.below(want + 1);  // mean `want`
  out.reserve(length);
  while (out.size() < length) {
    size_t start = rng.below(kFiller.size());
    size_t take = std::min(length - out.size(), kFiller.size() - start);
    out.append(kFiller.substr(start, take));
  }
}

// Sets `out` to `prefix` followed by the digits of `number`, in one allocation.
void assign_numbered(std::string& out, std::string_view prefix, uint64_t number) {
  fmt::format_int digits(number);
  out.reserve(prefix.size() + digits.size());
  out.assign(prefix);
  out.append(digits.data(), digits.size());
}

size_t data_size(const Person& p) {
  return 2 * 8 + p.name.size() + p.email.size() + p.credit_card.size() + p.city.size() +
         p.state.size() + p.extra.size();
}
size_t data_size(const Auction& a) {
  return 7 * 8 + a.item_name.size() + a.description.size() + a.extra.size();
}
size_t data_size(const Bid& b) {
  return 4 * 8 + b.channel.size() + b.url.size() + b.extra.size();
}

int64_t block_of(uint64_t n) {
  return static_cast<int64_t>(n / kBlock);
}

// The newest person id that exists at event n (at least the first).
int64_t last_person_id(uint64_t n) {
  return kFirstId + block_of(n) * kPersonsPerBlock;
}

// How many auctions events before n created.
int64_t auctions_before(uint64_t n) {
  int64_t in_block = static_cast<int64_t>(n % kBlock) - kPersonsPerBlock;
  return block_of(n) * kAuctionsPerBlock + std::clamp<int64_t>(in_block, 0, kAuctionsPerBlock);
}

Person make_person(const GeneratorConfig& config, uint64_t n, SplitRandom& rng) {
  Person p;
  p.id = last_person_id(n);
  p.name = std::string(pick(kFirstNames, rng)) + " " + std::string(pick(kLastNames, rng));
  p.email = "person" + std::to_string(p.id) + "@example.com";
  p.credit_card =
      std::to_string(1000 + rng.below(9000)) + " " + std::to_string(1000 + rng.below(9000)) + " " +
      std::to_string(1000 + rng.below(9000)) + " " + std::to_string(1000 + rng.below(9000));
  p.city = pick(kCities, rng);
  p.state = pick(kStates, rng);
  p.date_time = event_time(config, n);
  pad(p.extra, data_size(p), 200, rng);
  return p;
}

Auction make_auction(const GeneratorConfig& config, uint64_t n, SplitRandom& rng) {
  Auction a;
  a.id = kFirstId + auctions_before(n);
  a.item_name = std::string(pick(kWords, rng)) + " item " + std::to_string(a.id);
  a.description = std::string(pick(kWords, rng)) + " " + std::string(pick(kWords, rng)) +
                  " condition, ships in " + std::to_string(1 + rng.below(9)) + " days";
  a.initial_bid = 100 + static_cast<int64_t>(rng.below(10'000));
  a.reserve = a.initial_bid + static_cast<int64_t>(rng.below(100'000));
  a.date_time = event_time(config, n);
  a.expires = a.date_time + 2000 + static_cast<int64_t>(rng.below(8000));
  a.seller = kFirstId + static_cast<int64_t>(
                            rng.below(static_cast<uint64_t>(last_person_id(n) - kFirstId + 1)));
  a.category = 10 + static_cast<int64_t>(rng.below(5));
  pad(a.extra, data_size(a), 500, rng);
  return a;
}

void fill_bid(const GeneratorConfig& config, uint64_t n, SplitRandom& rng, Bid& b) {
  int64_t newest_auction = kFirstId + auctions_before(n) - 1;
  if (rng.chance(0.5)) {
    b.auction = std::max(kFirstId, newest_auction / kHotRatio * kHotRatio);
  } else {
    int64_t span = std::min(kRecentAuctions, newest_auction - kFirstId + 1);
    b.auction = newest_auction - static_cast<int64_t>(rng.below(static_cast<uint64_t>(span)));
  }
  int64_t newest_person = last_person_id(n);
  if (rng.chance(0.75)) {
    b.bidder = std::max(kFirstId, newest_person / kHotRatio * kHotRatio + 1);
    b.bidder = std::min(b.bidder, newest_person);
  } else {
    b.bidder = kFirstId +
               static_cast<int64_t>(rng.below(static_cast<uint64_t>(newest_person - kFirstId + 1)));
  }
  b.price = 100 + static_cast<int64_t>(rng.below(1'000'000));
  if (rng.chance(0.5)) {
    b.channel = pick(kHotChannels, rng);
  } else {
    assign_numbered(b.channel, "channel-", rng.below(10'000));
  }
  assign_numbered(b.url, "https://www.nexmark.com/item.htm?query=", rng.below(1'000'000));
  b.date_time = event_time(config, n);
  pad(b.extra, data_size(b), 100, rng);
}

}  // namespace

Timestamp event_time(const GeneratorConfig& config, uint64_t n) {
  int64_t micros = static_cast<int64_t>(n) * 1'000'000 / config.rate;
  return config.base_time + micros / 1000;
}

size_t event_size(const Event& event) {
  return std::visit([](const auto& e) { return data_size(e); }, event.body);
}

Event generate_event(const GeneratorConfig& config, uint64_t n, SplitRandom& rng) {
  int64_t position = static_cast<int64_t>(n % kBlock);
  Event event;
  if (position < kPersonsPerBlock) {
    event.body = make_person(config, n, rng);
  } else if (position < kPersonsPerBlock + kAuctionsPerBlock) {
    event.body = make_auction(config, n, rng);
  } else {
    fill_bid(config, n, rng, event.body.emplace<Bid>());
  }
  return event;
}

}  // namespace sluice::nexmark
