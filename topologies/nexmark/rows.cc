#include "topologies/nexmark/rows.h"

#include <fmt/format.h>

namespace sluice::nexmark {
namespace {

// Appends comma-separated integers and strings.
class CsvLine {
 public:
  explicit CsvLine(std::string& out) : out_(out) {}
  CsvLine& operator<<(int64_t v) {
    separate();
    fmt::format_int digits(v);
    out_.append(digits.data(), digits.size());
    return *this;
  }
  CsvLine& operator<<(const std::string& v) {
    separate();
    out_ += v;
    return *this;
  }

 private:
  void separate() {
    if (!first_) out_.push_back(',');
    first_ = false;
  }
  std::string& out_;
  bool first_ = true;
};

}  // namespace

void format_row(const BidRow& r, std::string& out) {
  CsvLine(out) << r.auction << r.bidder << r.price << r.date_time;
}
void format_row(const AuctionPrice& r, std::string& out) {
  CsvLine(out) << r.auction << r.price;
}
void format_row(const SellerAuction& r, std::string& out) {
  CsvLine(out) << r.name << r.city << r.state << r.auction_id;
}
void format_row(const CategoryAverage& r, std::string& out) {
  CsvLine(out) << r.category << r.average;
}
void format_row(const HotItem& r, std::string& out) {
  CsvLine(out) << r.window_start << r.window_end << r.auction << r.count;
}
void format_row(const WindowMaxBid& r, std::string& out) {
  CsvLine(out) << r.window_start << r.window_end << r.auction << r.bidder << r.price;
}
void format_row(const NewSeller& r, std::string& out) {
  CsvLine(out) << r.window_start << r.window_end << r.person_id << r.name;
}
void format_row(const BidderSession& r, std::string& out) {
  CsvLine(out) << r.session_start << r.session_end << r.bidder << r.count;
}

}  // namespace sluice::nexmark
