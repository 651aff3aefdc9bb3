// q4: the average winning price per category. Stage one, keyed by auction,
// closes each auction when the watermark passes its expiry and emits its
// winning price: the highest bid made between the auction's opening and its
// expiry. Bids that arrive before their auction wait in state until it
// does, or until the watermark passes them (then their auction is gone).
// Stage two, keyed by category, keeps sum and count and emits the floor of
// the average whenever it changes.
#include <algorithm>

#include "topologies/nexmark/queries.h"

namespace sluice::nexmark {
namespace {

struct OpenAuction {
  int64_t category = 0;
  Timestamp date_time = 0;
  Timestamp expires = 0;
  int64_t ingest_ns = 0;
  SLUICE_FIELDS(category, date_time, expires, ingest_ns)
};

struct PricedBid {
  Timestamp date_time = 0;
  int64_t price = 0;
  int64_t ingest_ns = 0;
  SLUICE_FIELDS(date_time, price, ingest_ns)
};

int64_t auction_key(const Event& e) {
  return e.auction() ? e.auction()->id : e.bid()->auction;
}

struct AuctionCloser {
  ValueState<OpenAuction> auction;
  ValueState<PricedBid> best;
  ListState<PricedBid> early;

  void open(KeyedStateBackend& state) {
    auction = state.value_state<OpenAuction>("auction");
    best = state.value_state<PricedBid>("best-bid");
    early = state.list_state<PricedBid>("early-bids");
  }

  void process(const Event& e, KeyedContext<int64_t, CategoryPrice>& ctx) {
    if (const Auction* a = e.auction()) {
      OpenAuction opened{a->category, a->date_time, a->expires, e.ingest_ns};
      if (const std::vector<PricedBid>* waiting = early.view()) {
        for (const PricedBid& bid : *waiting) consider(opened, bid);
        early.clear();
      }
      auction.update(opened);
      ctx.register_event_timer(a->expires);
      return;
    }
    PricedBid bid{e.bid()->date_time, e.bid()->price, e.ingest_ns};
    if (const OpenAuction* opened = auction.get()) {
      consider(*opened, bid);
    } else {
      early.add(bid);
      ctx.register_event_timer(bid.date_time);
    }
  }

  void on_timer(Timestamp ts, TimeDomain, KeyedContext<int64_t, CategoryPrice>& ctx) {
    const OpenAuction* opened = auction.get();
    if (opened == nullptr) {
      drop_orphaned_bids(ts);
      return;
    }
    if (ts < opened->expires) return;
    if (const PricedBid* winner = best.get()) {
      ctx.emit(CategoryPrice{opened->category, winner->price,
                             std::max(winner->ingest_ns, opened->ingest_ns)});
    }
    auction.clear();
    best.clear();
    early.clear();
  }

  void consider(const OpenAuction& opened, const PricedBid& bid) {
    if (bid.date_time < opened.date_time || bid.date_time > opened.expires) return;
    best.modify([&] { return bid; },
                [&](PricedBid& current) {
                  if (bid.price > current.price) current = bid;
                });
  }

  // The watermark passed these bids and their auction never came: it closed
  // before they were made.
  void drop_orphaned_bids(Timestamp watermark) {
    std::vector<PricedBid> kept;
    if (const std::vector<PricedBid>* waiting = early.view()) {
      for (const PricedBid& bid : *waiting) {
        if (bid.date_time > watermark) kept.push_back(bid);
      }
    }
    early.update(std::move(kept));
  }
};

struct CategoryStats {
  int64_t sum = 0;
  int64_t count = 0;
  int64_t last_average = -1;
  SLUICE_FIELDS(sum, count, last_average)
};

struct CategoryAverager {
  ValueState<CategoryStats> stats;

  void open(KeyedStateBackend& state) { stats = state.value_state<CategoryStats>("stats"); }

  void process(const CategoryPrice& p, KeyedContext<int64_t, CategoryAverage>& ctx) {
    stats.modify([] { return CategoryStats{}; },
                 [&](CategoryStats& s) {
                   s.sum += p.price;
                   ++s.count;
                   int64_t average = s.sum / s.count;  // prices are positive: floor
                   if (average == s.last_average) return;
                   s.last_average = average;
                   ctx.emit(CategoryAverage{p.category, average, p.ingest_ns});
                 });
  }
};

}  // namespace

void build_q4(const Stream<Event>& events, const OutputTarget& out) {
  auto winners = events.filter("q4-filter", [](const Event& e) { return e.person() == nullptr; })
                     .key_by(auction_key)
                     .process<CategoryPrice>("q4-close-auctions", AuctionCloser{});
  out.attach(winners.key_by([](const CategoryPrice& p) { return p.category; })
                 .process<CategoryAverage>("q4-average", CategoryAverager{}));
}

}  // namespace sluice::nexmark
