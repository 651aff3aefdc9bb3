// q3 (an unbounded incremental join of auctions with their sellers) and q8
// (people who registered and opened an auction in the same window), written
// as the reference implementations write them: the event stream is split
// into a stream of persons and one of auctions, each filtered and narrowed
// to the fields the query needs, and the two are joined by person id (a
// person's id, an auction's seller): q3 with a keyed co-process function,
// q8 with a tumbling window co-group.
#include <algorithm>

#include "topologies/nexmark/queries.h"

namespace sluice::nexmark {
namespace {

struct SellerInfo {
  std::string name;
  std::string city;
  std::string state;
  int64_t ingest_ns = 0;
  SLUICE_FIELDS(name, city, state, ingest_ns)
};

struct PendingAuction {
  int64_t id = 0;
  int64_t seller = 0;
  int64_t ingest_ns = 0;
  SLUICE_FIELDS(id, seller, ingest_ns)
};

struct Seller {
  int64_t id = 0;
  SellerInfo info;
  SLUICE_FIELDS(id, info)
};

// Whichever side arrives first waits in state for the other.
struct SellerJoin {
  ValueState<SellerInfo> seller;
  ListState<PendingAuction> waiting;

  void open(KeyedStateBackend& state) {
    seller = state.value_state<SellerInfo>("seller");
    waiting = state.list_state<PendingAuction>("waiting-auctions");
  }

  void process1(const PendingAuction& auction, KeyedContext<int64_t, SellerAuction>& ctx) {
    if (const SellerInfo* known = seller.get()) {
      ctx.emit(joined(*known, auction));
    } else {
      waiting.add(auction);
    }
  }
  void process2(const Seller& person, KeyedContext<int64_t, SellerAuction>& ctx) {
    if (const std::vector<PendingAuction>* auctions = waiting.view()) {
      for (const PendingAuction& a : *auctions) ctx.emit(joined(person.info, a));
      waiting.clear();
    }
    seller.update(person.info);
  }

  static SellerAuction joined(const SellerInfo& s, const PendingAuction& a) {
    return SellerAuction{s.name, s.city, s.state, a.id, std::max(s.ingest_ns, a.ingest_ns)};
  }
};

std::optional<PendingAuction> q3_auction(const Event& e) {
  const Auction* a = e.auction();
  if (a == nullptr || a->category != 10) return std::nullopt;
  return PendingAuction{a->id, a->seller, e.ingest_ns};
}

std::optional<Seller> q3_seller(const Event& e) {
  const Person* p = e.person();
  if (p == nullptr || (p->state != "OR" && p->state != "ID" && p->state != "CA")) {
    return std::nullopt;
  }
  return Seller{p->id, SellerInfo{p->name, p->city, p->state, e.ingest_ns}};
}

// A registration, or an auction opening, narrowed for q8.
struct Registration {
  int64_t person = 0;
  std::string name;
  int64_t ingest_ns = 0;
  SLUICE_FIELDS(person, name, ingest_ns)
};
struct Opening {
  int64_t seller = 0;
  int64_t ingest_ns = 0;
  SLUICE_FIELDS(seller, ingest_ns)
};

std::optional<Registration> q8_registration(const Event& e) {
  const Person* p = e.person();
  if (p == nullptr) return std::nullopt;
  return Registration{p->id, p->name, e.ingest_ns};
}

std::optional<Opening> q8_opening(const Event& e) {
  const Auction* a = e.auction();
  if (a == nullptr) return std::nullopt;
  return Opening{a->seller, e.ingest_ns};
}

// Each person who registered in the window, once, if they also opened an
// auction in it.
void new_sellers(const int64_t& person, const TimeWindow& w,
                 const std::vector<Registration>& registrations,
                 const std::vector<Opening>& openings, Emitter<NewSeller>& out) {
  if (registrations.empty() || openings.empty()) return;
  int64_t ingest_ns = 0;
  for (const Registration& r : registrations) ingest_ns = std::max(ingest_ns, r.ingest_ns);
  for (const Opening& o : openings) ingest_ns = std::max(ingest_ns, o.ingest_ns);
  out.emit(NewSeller{w.start, w.end, person, registrations.back().name, ingest_ns});
}

// The persons and auctions of the event stream, narrowed by `first` and
// `second` (a filter and a map in one step), as two streams. The split goes
// through one narrowed stream of either kind, so that the bids, most of the
// events, are dropped before the stream forks (a fork copies its records).
template <class A, class B>
std::pair<Stream<A>, Stream<B>> split(const Stream<Event>& events, const std::string& query,
                                      std::optional<A> (*first)(const Event&),
                                      const std::string& first_name,
                                      std::optional<B> (*second)(const Event&),
                                      const std::string& second_name) {
  using Either = std::variant<A, B>;
  auto either = events.flat_map<Either>(query + "-narrow", [=](Event&& e, Emitter<Either>& out) {
    if (std::optional<A> a = first(e)) {
      out.emit(Either(std::in_place_index<0>, std::move(*a)));
    } else if (std::optional<B> b = second(e)) {
      out.emit(Either(std::in_place_index<1>, std::move(*b)));
    }
  });
  auto pick = [](auto index) {
    return [](Either&& v, auto& out) {
      if (auto* kept = std::get_if<decltype(index)::value>(&v)) out.emit(std::move(*kept));
    };
  };
  return {either.template flat_map<A>(query + "-" + first_name,
                                      pick(std::integral_constant<size_t, 0>{})),
          either.template flat_map<B>(query + "-" + second_name,
                                      pick(std::integral_constant<size_t, 1>{}))};
}

}  // namespace

void build_q3(const Stream<Event>& events, const OutputTarget& out) {
  auto [auctions, sellers] = split(events, "q3", q3_auction, "auctions", q3_seller, "sellers");
  out.attach(auctions.key_by([](const PendingAuction& a) { return a.seller; })
                 .connect(sellers.key_by([](const Seller& s) { return s.id; }))
                 .process<SellerAuction>("q3-join", SellerJoin{}));
}

void build_q8(const Stream<Event>& events, const OutputTarget& out) {
  auto [registrations, openings] =
      split(events, "q8", q8_registration, "persons", q8_opening, "auctions");
  out.attach(registrations.key_by([](const Registration& r) { return r.person; })
                 .window_join(openings.key_by([](const Opening& o) { return o.seller; }),
                              tumbling(kTenSeconds))
                 .co_group<NewSeller>("q8-join", new_sellers));
}

}  // namespace sluice::nexmark
