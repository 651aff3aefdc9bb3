// The windowed queries: q5 (hot items: the most-bid auctions per sliding
// window), q7 (the highest bids per tumbling window) and q11 (bids per
// bidder session). q5 and q7 pre-aggregate in parallel per key and window,
// then combine per window in a second keyed stage that emits when the
// watermark passes the window's end.
#include <algorithm>

#include "topologies/nexmark/queries.h"

namespace sluice::nexmark {
namespace {

bool is_bid(const Event& e) {
  return e.bid() != nullptr;
}

struct BidCount {
  int64_t count = 0;
  int64_t ingest_ns = 0;
  SLUICE_FIELDS(count, ingest_ns)
};

struct CountBids {
  BidCount create() const { return {}; }
  void add(BidCount& acc, const Event& e) const {
    ++acc.count;
    acc.ingest_ns = std::max(acc.ingest_ns, e.ingest_ns);
  }
  BidCount result(const BidCount& acc) const { return acc; }
  void merge(BidCount& into, const BidCount& from) const {
    into.count += from.count;
    into.ingest_ns = std::max(into.ingest_ns, from.ingest_ns);
  }
};

// Keeps the rows that tie for the largest `score` of a window and emits
// them when the watermark passes the window's end.
template <class Row, auto Score>
struct WindowLeaders {
  ValueState<std::vector<Row>> leaders;

  void open(KeyedStateBackend& state) { leaders = state.value_state<std::vector<Row>>("leaders"); }

  void process(const Row& row, KeyedContext<Timestamp, Row>& ctx) {
    bool first = false;
    leaders.modify(
        [&] {
          first = true;
          return std::vector<Row>{};
        },
        [&](std::vector<Row>& rows) {
          if (rows.empty() || row.*Score > rows.front().*Score) {
            rows.assign(1, row);
          } else if (row.*Score == rows.front().*Score) {
            rows.push_back(row);
          }
        });
    if (first) ctx.register_event_timer(row.window_end - 1);
  }

  void on_timer(Timestamp, TimeDomain, KeyedContext<Timestamp, Row>& ctx) {
    if (const std::vector<Row>* rows = leaders.get()) {
      for (const Row& r : *rows) ctx.emit(r);
    }
    leaders.clear();
  }
};

// The highest bids of one window among one key's bids.
struct TopBids {
  int64_t price = -1;
  std::vector<WindowMaxBid> bids;  // window fields filled in at the end
  SLUICE_FIELDS(price, bids)
};

struct HighestBids {
  TopBids create() const { return {}; }
  void add(TopBids& acc, const Event& e) const {
    const Bid& b = *e.bid();
    if (b.price < acc.price) return;
    if (b.price > acc.price) {
      acc.price = b.price;
      acc.bids.clear();
    }
    acc.bids.push_back(WindowMaxBid{0, 0, b.auction, b.bidder, b.price, e.ingest_ns});
  }
  TopBids result(const TopBids& acc) const { return acc; }
  void merge(TopBids& into, const TopBids& from) const {
    if (from.price < into.price) return;
    if (from.price > into.price) {
      into = from;
      return;
    }
    into.bids.insert(into.bids.end(), from.bids.begin(), from.bids.end());
  }
};

}  // namespace

void build_q5(const Stream<Event>& events, const OutputTarget& out) {
  auto counts = events.filter("q5-bids", is_bid)
                    .key_by([](const Event& e) { return e.bid()->auction; })
                    .window(sliding(kTenSeconds, kTwoSeconds))
                    .aggregate("q5-count", CountBids{},
                               [](const int64_t& auction, const TimeWindow& w, BidCount&& c) {
                                 return HotItem{w.start, w.end, auction, c.count, c.ingest_ns};
                               });
  out.attach(counts.key_by([](const HotItem& h) { return h.window_start; })
                 .process<HotItem>("q5-hottest", WindowLeaders<HotItem, &HotItem::count>{}));
}

void build_q7(const Stream<Event>& events, const OutputTarget& out) {
  // Pre-aggregation spreads the bids over 64 buckets; any key would do.
  constexpr int64_t kBuckets = 64;
  auto partial = events.filter("q7-bids", is_bid)
                     .key_by([](const Event& e) { return e.bid()->auction % kBuckets; })
                     .window(tumbling(kTenSeconds))
                     .aggregate("q7-highest-per-bucket", HighestBids{},
                                [](const int64_t&, const TimeWindow& w, TopBids&& top) {
                                  for (WindowMaxBid& b : top.bids) {
                                    b.window_start = w.start;
                                    b.window_end = w.end;
                                  }
                                  return std::move(top.bids);
                                })
                     .flat_map<WindowMaxBid>("q7-unpack", [](std::vector<WindowMaxBid>&& bids,
                                                             Emitter<WindowMaxBid>& emit) {
                       for (WindowMaxBid& b : bids) emit.emit(std::move(b));
                     });
  out.attach(partial.key_by([](const WindowMaxBid& b) { return b.window_start; })
                 .process<WindowMaxBid>("q7-highest",
                                        WindowLeaders<WindowMaxBid, &WindowMaxBid::price>{}));
}

void build_q11(const Stream<Event>& events, const OutputTarget& out) {
  out.attach(events.filter("q11-bids", is_bid)
                 .key_by([](const Event& e) { return e.bid()->bidder; })
                 .window(session(kTenSeconds))
                 .aggregate("q11-sessions", CountBids{},
                            [](const int64_t& bidder, const TimeWindow& w, BidCount&& c) {
                              return BidderSession{w.start, w.end, bidder, c.count, c.ingest_ns};
                            }));
}

}  // namespace sluice::nexmark
