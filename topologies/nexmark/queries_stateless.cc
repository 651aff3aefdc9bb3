// q0 (pass-through), q1 (currency conversion), q2 (selection): one
// flat_map over the events, no state.
#include "topologies/nexmark/queries.h"

namespace sluice::nexmark {
namespace {

BidRow bid_row(const Bid& b, int64_t ingest_ns) {
  return BidRow{b.auction, b.bidder, b.price, b.date_time, ingest_ns};
}

}  // namespace

void build_q0(const Stream<Event>& events, const OutputTarget& out) {
  out.attach(events.flat_map<BidRow>("q0-bids", [](Event&& e, Emitter<BidRow>& emit) {
    if (const Bid* b = e.bid()) emit.emit(bid_row(*b, e.ingest_ns));
  }));
}

void build_q1(const Stream<Event>& events, const OutputTarget& out) {
  out.attach(events.flat_map<BidRow>("q1-euros", [](Event&& e, Emitter<BidRow>& emit) {
    if (const Bid* b = e.bid()) {
      BidRow row = bid_row(*b, e.ingest_ns);
      row.price = b->price * 908 / 1000;
      emit.emit(row);
    }
  }));
}

void build_q2(const Stream<Event>& events, const OutputTarget& out) {
  out.attach(events.flat_map<AuctionPrice>("q2-select", [](Event&& e, Emitter<AuctionPrice>& emit) {
    const Bid* b = e.bid();
    if (b != nullptr && b->auction % 123 == 0) {
      emit.emit(AuctionPrice{b->auction, b->price, e.ingest_ns});
    }
  }));
}

}  // namespace sluice::nexmark
