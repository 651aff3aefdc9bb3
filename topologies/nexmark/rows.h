// The output rows of the Nexmark queries and their CSV lines, as fixed by
// the benchmark's definition. Every row carries `ingest_ns`, the latest
// ingestion time of the events it came from, for latency measurement; it is
// not part of the output line.
#pragma once

#include <cstdint>
#include <string>

#include "runtime/core/codec.h"
#include "runtime/core/time.h"

namespace sluice::nexmark {

struct BidRow {  // q0, q1 (price in euros for q1)
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t price = 0;
  Timestamp date_time = 0;
  int64_t ingest_ns = 0;
};

struct AuctionPrice {  // q2
  int64_t auction = 0;
  int64_t price = 0;
  int64_t ingest_ns = 0;
};

struct SellerAuction {  // q3
  std::string name;
  std::string city;
  std::string state;
  int64_t auction_id = 0;
  int64_t ingest_ns = 0;
};

struct CategoryPrice {  // q4, between its stages
  int64_t category = 0;
  int64_t price = 0;
  int64_t ingest_ns = 0;
};

struct CategoryAverage {  // q4
  int64_t category = 0;
  int64_t average = 0;
  int64_t ingest_ns = 0;
};

struct HotItem {  // q5
  Timestamp window_start = 0;
  Timestamp window_end = 0;
  int64_t auction = 0;
  int64_t count = 0;
  int64_t ingest_ns = 0;
  SLUICE_FIELDS(window_start, window_end, auction, count, ingest_ns)
};

struct WindowMaxBid {  // q7
  Timestamp window_start = 0;
  Timestamp window_end = 0;
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t price = 0;
  int64_t ingest_ns = 0;
  SLUICE_FIELDS(window_start, window_end, auction, bidder, price, ingest_ns)
};

struct NewSeller {  // q8
  Timestamp window_start = 0;
  Timestamp window_end = 0;
  int64_t person_id = 0;
  std::string name;
  int64_t ingest_ns = 0;
};

struct BidderSession {  // q11
  Timestamp session_start = 0;
  Timestamp session_end = 0;
  int64_t bidder = 0;
  int64_t count = 0;
  int64_t ingest_ns = 0;
};

void format_row(const BidRow& r, std::string& out);
void format_row(const AuctionPrice& r, std::string& out);
void format_row(const SellerAuction& r, std::string& out);
void format_row(const CategoryAverage& r, std::string& out);
void format_row(const HotItem& r, std::string& out);
void format_row(const WindowMaxBid& r, std::string& out);
void format_row(const NewSeller& r, std::string& out);
void format_row(const BidderSession& r, std::string& out);

}  // namespace sluice::nexmark
