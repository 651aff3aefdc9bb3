// q3 (an unbounded incremental join of auctions with their sellers) and q8
// (people who registered and opened an auction in the same window). Both
// key the one event stream by person id (a person's id, an auction's
// seller), so the join is a keyed operator and needs no second input.
#include <algorithm>

#include "topologies/nexmark/queries.h"

namespace sluice::nexmark {
namespace {

int64_t person_key(const Event& e) {
  return e.person() ? e.person()->id : e.auction()->seller;
}

bool is_person_or_auction(const Event& e) {
  return e.bid() == nullptr;
}

struct SellerInfo {
  std::string name;
  std::string city;
  std::string state;
  int64_t ingest_ns = 0;
  SLUICE_FIELDS(name, city, state, ingest_ns)
};

struct PendingAuction {
  int64_t id = 0;
  int64_t ingest_ns = 0;
  SLUICE_FIELDS(id, ingest_ns)
};

// Whichever side arrives first waits in state for the other.
struct SellerJoin {
  ValueState<SellerInfo> seller;
  ListState<PendingAuction> waiting;

  void open(KeyedStateBackend& state) {
    seller = state.value_state<SellerInfo>("seller");
    waiting = state.list_state<PendingAuction>("waiting-auctions");
  }

  void process(const Event& e, KeyedContext<int64_t, SellerAuction>& ctx) {
    if (const Person* p = e.person()) {
      SellerInfo info{p->name, p->city, p->state, e.ingest_ns};
      if (const std::vector<PendingAuction>* auctions = waiting.view()) {
        for (const PendingAuction& a : *auctions) ctx.emit(joined(info, a));
        waiting.clear();
      }
      seller.update(std::move(info));
      return;
    }
    PendingAuction auction{e.auction()->id, e.ingest_ns};
    if (const SellerInfo* known = seller.get()) {
      ctx.emit(joined(*known, auction));
    } else {
      waiting.add(auction);
    }
  }

  static SellerAuction joined(const SellerInfo& s, const PendingAuction& a) {
    return SellerAuction{s.name, s.city, s.state, a.id, std::max(s.ingest_ns, a.ingest_ns)};
  }
};

bool q3_relevant(const Event& e) {
  if (const Person* p = e.person()) return p->state == "OR" || p->state == "ID" || p->state == "CA";
  if (const Auction* a = e.auction()) return a->category == 10;
  return false;
}

// What one person did in one window.
struct WindowActivity {
  std::string name;
  bool registered = false;
  bool opened_auction = false;
  int64_t ingest_ns = 0;
  SLUICE_FIELDS(name, registered, opened_auction, ingest_ns)
};

struct ActivityAggregate {
  WindowActivity create() const { return {}; }
  void add(WindowActivity& acc, const Event& e) const {
    if (const Person* p = e.person()) {
      acc.name = p->name;
      acc.registered = true;
    } else {
      acc.opened_auction = true;
    }
    acc.ingest_ns = std::max(acc.ingest_ns, e.ingest_ns);
  }
  WindowActivity result(const WindowActivity& acc) const { return acc; }
  void merge(WindowActivity& into, const WindowActivity& from) const {
    if (from.registered) {
      into.name = from.name;
      into.registered = true;
    }
    into.opened_auction |= from.opened_auction;
    into.ingest_ns = std::max(into.ingest_ns, from.ingest_ns);
  }
};

std::optional<NewSeller> new_seller(const int64_t& person, const TimeWindow& w,
                                    WindowActivity&& activity) {
  if (!activity.registered || !activity.opened_auction) return std::nullopt;
  return NewSeller{w.start, w.end, person, std::move(activity.name), activity.ingest_ns};
}

}  // namespace

void build_q3(const Stream<Event>& events, const OutputTarget& out) {
  out.attach(events.filter("q3-filter", q3_relevant)
                 .key_by(person_key)
                 .process<SellerAuction>("q3-join", SellerJoin{}));
}

void build_q8(const Stream<Event>& events, const OutputTarget& out) {
  auto per_window = events.filter("q8-filter", is_person_or_auction)
                        .key_by(person_key)
                        .window(tumbling(kTenSeconds))
                        .aggregate("q8-window", ActivityAggregate{}, new_seller);
  out.attach(per_window.flat_map<NewSeller>(
      "q8-new-sellers", [](std::optional<NewSeller>&& s, Emitter<NewSeller>& emit) {
        if (s) emit.emit(std::move(*s));
      }));
}

}  // namespace sluice::nexmark
