// click-attribution: the two-stream operators together. Ad views and ad
// clicks arrive on two inputs; each click is attributed to the views of the
// same user and ad in the window before it (an interval join), enriched with
// the ad's campaign by an asynchronous lookup, and billed at the campaign's
// bid in force at the click's time, from rules arriving on a third input as
// broadcast state. Output lines: `click_time,user,ad,view_time,campaign,bid`.
//
// Inputs are CSV lines `event_time_ms,key,value` (a file, or kafka:TOPIC):
// views and clicks as `time,user,ad`, rules as `time,campaign,bid_cents`.
// The campaign catalogue is a stand-in for a remote service: a lookup
// answers `campaign-(ad mod campaigns)` after `lookup-latency`, on a pool of
// threads, so the task never waits for it.
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "operators/async_pool.h"
#include "runtime/job/registry.h"
#include "topologies/csv_input.h"
#include "topologies/line_output.h"

namespace sluice::topologies {
namespace {

struct AttributedClick {
  Timestamp click_time = 0;
  std::string user;
  int64_t ad = 0;
  Timestamp view_time = 0;
  std::string campaign;  // filled in by the lookup
  SLUICE_FIELDS(click_time, user, ad, view_time, campaign)
};

struct BilledClick {
  AttributedClick click;
  int64_t bid = 0;  // cents; 0 when the campaign has no bid (or is paused)
  SLUICE_FIELDS(click, bid)
};

void format_billed_click(const BilledClick& b, std::string& out) {
  const AttributedClick& c = b.click;
  fmt::format_to(std::back_inserter(out), "{},{},{},{},{},{}", c.click_time, c.user, c.ad,
                 c.view_time, c.campaign, b.bid);
}

// The user and the ad: views and clicks pair on both.
std::string user_and_ad(const CsvEvent& e) {
  return e.key + "/" + std::to_string(e.value);
}

// The campaign catalogue: a lookup on a pool of threads, as a client of a
// remote service would make it.
struct CampaignLookup {
  std::shared_ptr<AsyncPool> pool;
  int64_t campaigns = 5;
  DurationMs latency = 0;

  Future<AttributedClick> operator()(const AttributedClick& click) const {
    return pool->submit([click, campaigns = campaigns, latency = latency] {
      if (latency > 0) {
        auto service_time = std::chrono::milliseconds(latency);
        std::this_thread::sleep_for(service_time);  // sleep-ok: the remote service's latency
      }
      AttributedClick enriched = click;
      enriched.campaign = "campaign-" + std::to_string(click.ad % campaigns);
      return enriched;
    });
  }
};

// A campaign's bids over time: (from, cents), in arrival order.
using BidHistory = std::vector<std::pair<Timestamp, int64_t>>;

// Keyed by campaign: a click waits in state until the watermark (over the
// clicks and the rules) passes its time, so the bid it gets is the one in
// force then, whatever order the two inputs arrive in.
struct Billing {
  MapState<Timestamp, std::vector<AttributedClick>> waiting;

  void open(KeyedStateBackend& state) {
    waiting = state.map_state<Timestamp, std::vector<AttributedClick>>("waiting-clicks");
  }
  void process(const AttributedClick& click,
               KeyedBroadcastContext<std::string, std::string, BidHistory, BilledClick>& ctx) {
    std::vector<AttributedClick> clicks =
        waiting.get(ctx.timestamp()).value_or(std::vector<AttributedClick>{});
    clicks.push_back(click);
    waiting.put(ctx.timestamp(), clicks);
    ctx.register_event_timer(ctx.timestamp());
  }
  void process_broadcast(const CsvEvent& rule,
                         BroadcastContext<std::string, BidHistory, BilledClick>& ctx) {
    BidHistory history = ctx.state().contains(rule.key) ? *ctx.state().get(rule.key) : BidHistory{};
    history.emplace_back(rule.event_time, rule.value);
    ctx.state().put(rule.key, std::move(history));
  }
  void on_timer(Timestamp ts, TimeDomain,
                KeyedBroadcastContext<std::string, std::string, BidHistory, BilledClick>& ctx) {
    int64_t bid = bid_at(ctx.broadcast_state().get(ctx.key()), ts);
    for (AttributedClick& click : waiting.get(ts).value_or(std::vector<AttributedClick>{})) {
      ctx.emit(BilledClick{std::move(click), bid});
    }
    waiting.remove(ts);
  }
  // The latest bid from at or before `ts`.
  static int64_t bid_at(const BidHistory* history, Timestamp ts) {
    int64_t bid = 0;
    Timestamp from = kMinTimestamp;
    if (history == nullptr) return bid;
    for (const auto& [t, cents] : *history) {
      if (t <= ts && t >= from) {
        from = t;
        bid = cents;
      }
    }
    return bid;
  }
};

void build(Topology& topology, const Params& params) {
  auto strategy = bounded_out_of_orderness([](const CsvEvent& e) { return e.event_time; },
                                           params.get_duration("out-of-orderness"),
                                           params.get_duration("idle-timeout"));
  auto read = [&](const std::string& name) {
    return read_csv_events(topology, params, name, params.get(name), false, strategy);
  };
  DurationMs window = params.get_duration("attribution-window");
  if (window < 0) throw UsageError("parameter 'attribution-window' must not be negative");
  int64_t campaigns = params.get_int("campaigns");
  if (campaigns < 1) throw UsageError("parameter 'campaigns' must be at least 1");
  int64_t threads = params.get_int("lookup-threads");
  if (threads < 1) throw UsageError("parameter 'lookup-threads' must be at least 1");
  int64_t capacity = params.get_int("lookup-capacity");
  if (capacity < 1) throw UsageError("parameter 'lookup-capacity' must be at least 1");

  auto attributed =
      read("clicks")
          .key_by(user_and_ad)
          .interval_join(read("views").key_by(user_and_ad))
          .between(-window, 0)
          .join("attribute", [](const CsvEvent& click, const CsvEvent& view) {
            return AttributedClick{click.event_time, click.key, click.value, view.event_time, ""};
          });
  AsyncOptions lookup;
  lookup.capacity = static_cast<size_t>(capacity);
  lookup.timeout = params.get_duration("lookup-timeout");
  auto enriched =
      attributed.async_map("campaign-lookup",
                           CampaignLookup{std::make_shared<AsyncPool>(static_cast<size_t>(threads)),
                                          campaigns, params.get_duration("lookup-latency")},
                           lookup);
  auto bids = read("rules").broadcast(BroadcastStateDescriptor<std::string, BidHistory>{"bids"});
  auto billed = enriched.key_by([](const AttributedClick& c) { return c.campaign; })
                    .connect(bids)
                    .process<BilledClick>("billing", Billing{});
  write_lines(billed, params, "click-attribution", &format_billed_click,
              [](const BilledClick& b) { return b.click.user; });
}

std::vector<ParamSpec> click_attribution_params() {
  return with_kafka_params({
      {"views", "ad views, CSV lines time,user,ad: a file, or kafka:TOPIC", "", true},
      {"clicks", "ad clicks, CSV lines time,user,ad: a file, or kafka:TOPIC", "", true},
      {"rules", "campaign bids, CSV lines time,campaign,bid_cents: a file, or kafka:TOPIC", "",
       true},
      {"output",
       "click_time,user,ad,view_time,campaign,bid lines: part files in a directory, or "
       "kafka:TOPIC (keyed by user)",
       "", true},
      {"attribution-window", "a click is attributed to the views this long before it", "10s"},
      {"campaigns", "campaigns in the catalogue (an ad's campaign is ad mod campaigns)", "5"},
      {"lookup-latency", "how long a catalogue lookup takes", "1ms"},
      {"lookup-threads", "threads making catalogue lookups (per process)", "8"},
      {"lookup-capacity", "catalogue lookups in flight per subtask at most", "100"},
      {"lookup-timeout", "a lookup that takes longer is issued again (three attempts)", "5s"},
      {"out-of-orderness", "how late events may arrive before the watermark passes them", "0ms"},
      {"idle-timeout", "an input without data this long stops holding the watermark (0: never)",
       "0ms"},
      {"rate", "throttle: input lines per second per input (over all subtasks)", ""},
      {"on-error", "malformed lines: fail (stop the job) or skip (count and report)", "fail"},
  });
}

SLUICE_TOPOLOGY(TopologySpec{
    "click-attribution",
    "ad clicks attributed to views (interval join), enriched by an asynchronous lookup, billed "
    "by bid rules (broadcast state)",
    click_attribution_params(), build});

}  // namespace
}  // namespace sluice::topologies
