// The data plane: element codec, credits and backpressure, one connection
// per pair of task managers, garbage from the network, lost peers and
// attempts. Two or three DataPlane instances in one process on loopback,
// real sockets; threads synchronise on conditions with bounded waits.
#include "runtime/cluster/data_plane.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <boost/asio.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "runtime/cluster/frame.h"
#include "runtime/graph/stream_type_ops.h"
#include "runtime/network/element_codec.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
using Rec = std::pair<std::string, int64_t>;
using SteadyClock = std::chrono::steady_clock;

// Generous: the machine may be busy with other builds.
constexpr auto kWait = 30s;

// Polls `condition` until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = kWait) {
  auto deadline = SteadyClock::now() + timeout;
  while (!condition()) {
    if (SteadyClock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);  // sleep-ok: poll interval of a bounded wait
  }
  return true;
}

// ---- a deterministic stream: records, watermarks, a barrier, idleness ------

Rec value_of(int64_t i) {
  return {fmt::format("key-{}", i % 977), i};
}
Timestamp timestamp_of(int64_t i) {
  return 1'000'000 + i * 3 - (i % 5);
}

// A control element and how many records come before it.
struct Control {
  ElementKind kind;
  int64_t records_before;
  int64_t value = 0;  // watermark or checkpoint id
};

// The stream `produce` sends: batches of `batch` records, a watermark after
// every tenth batch, a barrier halfway, idle/active at three quarters, end.
struct Script {
  int64_t records;
  int64_t batch;

  std::vector<Control> controls() const {
    std::vector<Control> out;
    int64_t batches = (records + batch - 1) / batch;
    for (int64_t b = 0; b < batches; ++b) {
      int64_t sent = std::min(records, (b + 1) * batch);
      if (b % 10 == 9) out.push_back({ElementKind::kWatermark, sent, timestamp_of(sent - 1)});
      if (b == batches / 2) out.push_back({ElementKind::kBarrier, sent, 7});
      if (b == batches * 3 / 4) {
        out.push_back({ElementKind::kIdle, sent});
        out.push_back({ElementKind::kActive, sent});
      }
    }
    out.push_back({ElementKind::kEnd, records});
    return out;
  }
};

// Pushes the script into `channel`; counts completed pushes. Returns early
// (false) when the channel is cancelled.
bool produce(Channel<Rec>& channel, const Script& script, std::atomic<int64_t>* pushes = nullptr) {
  std::vector<Control> controls = script.controls();
  size_t next_control = 0;
  int64_t sent = 0;
  auto push = [&](Element<Rec>&& e) {
    channel.push(std::move(e));
    if (pushes != nullptr) pushes->fetch_add(1);
  };
  try {
    while (true) {
      while (next_control < controls.size() && controls[next_control].records_before == sent) {
        const Control& c = controls[next_control++];
        Element<Rec> e;
        e.kind = c.kind;
        if (c.kind == ElementKind::kWatermark) e.watermark = c.value;
        if (c.kind == ElementKind::kBarrier) e.checkpoint = c.value;
        push(std::move(e));
        if (c.kind == ElementKind::kEnd) return true;
      }
      Element<Rec> e;
      int64_t n = std::min(script.batch, script.records - sent);
      for (int64_t i = sent; i < sent + n; ++i) e.batch.push_back({value_of(i), timestamp_of(i)});
      sent += n;
      push(std::move(e));
    }
  } catch (const CancelledError&) {
    return false;
  }
}

// Checks what arrives against the script: every record once, in order, with
// its timestamp; every control element at its place.
class Verifier {
 public:
  explicit Verifier(const Script& script) : controls_(script.controls()) {}

  void take(const Element<Rec>& e) {
    if (!error_.empty() || ended_) return;
    if (e.kind == ElementKind::kBatch) {
      for (const Record<Rec>& r : e.batch) {
        if (r.value != value_of(records_) || r.timestamp != timestamp_of(records_)) {
          error_ = fmt::format("record {} is ({}, {}) @ {}", records_, r.value.first,
                               r.value.second, r.timestamp);
          return;
        }
        ++records_;
      }
      return;
    }
    if (next_control_ >= controls_.size()) {
      error_ = "a control element after the end";
      return;
    }
    const Control& c = controls_[next_control_++];
    int64_t value = e.kind == ElementKind::kWatermark ? e.watermark
                    : e.kind == ElementKind::kBarrier ? e.checkpoint
                                                      : 0;
    if (e.kind != c.kind || records_ != c.records_before || value != c.value) {
      error_ = fmt::format(
          "control {} is kind {} after {} records (value {}), expected kind {} "
          "after {} (value {})",
          next_control_ - 1, static_cast<int>(e.kind), records_, value, static_cast<int>(c.kind),
          c.records_before, c.value);
      return;
    }
    if (e.kind == ElementKind::kEnd) ended_ = true;
  }

  bool ended() const { return ended_; }
  const std::string& error() const { return error_; }
  int64_t records() const { return records_; }

 private:
  std::vector<Control> controls_;
  size_t next_control_ = 0;
  int64_t records_ = 0;
  bool ended_ = false;
  std::string error_;
};

// ---- planes and links ---------------------------------------------------------

// Every on_peer_lost call.
class LostPeers {
 public:
  DataPlane::PeerLostFn callback() {
    return [this](const std::string& peer, const std::string& reason) {
      std::lock_guard lock(mutex_);
      events_.emplace_back(peer, reason);
      cv_.notify_all();
    };
  }
  // Waits for a loss of `peer`; returns its reason, or "" after the timeout.
  std::string wait_for(const std::string& peer, std::chrono::milliseconds timeout = kWait) {
    std::unique_lock lock(mutex_);
    std::string reason;
    cv_.wait_for(lock, timeout, [&] {
      for (const auto& [p, r] : events_) {
        if (p == peer) reason = r.empty() ? "(empty reason)" : r;
      }
      return !reason.empty();
    });
    return reason;
  }
  size_t count(const std::string& peer) {
    std::lock_guard lock(mutex_);
    return static_cast<size_t>(std::count_if(events_.begin(), events_.end(),
                                             [&](const auto& e) { return e.first == peer; }));
  }
  size_t total() {
    std::lock_guard lock(mutex_);
    return events_.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::pair<std::string, std::string>> events_;
};

struct Plane {
  explicit Plane(const std::string& id, DataPlaneOptions options = {})
      : plane(std::make_unique<DataPlane>(id, "127.0.0.1", 0, lost.callback(), options)) {}
  DataPeer peer() const { return DataPeer{plane->id(), "127.0.0.1", plane->port()}; }
  DataPlane* operator->() { return plane.get(); }

  LostPeers lost;  // outlives the plane, which calls it
  std::unique_ptr<DataPlane> plane;
};

void connect(std::vector<Plane*> planes) {
  std::vector<DataPeer> peers;
  for (Plane* p : planes) peers.push_back(p->peer());
  for (Plane* p : planes) (*p)->connect_peers(peers);
  for (Plane* p : planes) {
    for (Plane* q : planes) {
      if (p != q) {
        ASSERT_TRUE((*p)->wait_connected(q->plane->id(), kWait));
      }
    }
  }
}

// One remote edge: the producer's outbound channel in one plane, the
// consumer's inbound channel in another.
struct Link {
  Link(size_t capacity, ChannelKey key_) : out(capacity), in(capacity), key(key_) {
    in.set_consumer(&consumer_wakeup);
  }
  void register_outbound(Plane& from, const std::string& to) {
    from->add_outbound(to, key, &out, TypedStreamOps<Rec>::instance()->make_encoder(&out));
  }
  void register_inbound(Plane& to, const std::string& from) {
    to->add_inbound(from, key, &in, TypedStreamOps<Rec>::instance()->make_decoder(&in));
  }
  void wire(Plane& from, Plane& to) {
    register_inbound(to, from.plane->id());
    register_outbound(from, to.plane->id());
  }

  // Pops until the end or `timeout`; records the largest queue it saw.
  void consume(Verifier& verifier, std::chrono::milliseconds timeout = kWait) {
    auto deadline = SteadyClock::now() + timeout;
    Element<Rec> e;
    while (!verifier.ended() && verifier.error().empty()) {
      size_t queued = in.queued();
      if (queued > max_inbound_queued) max_inbound_queued = queued;
      if (in.try_pop(e)) {
        verifier.take(e);
        continue;
      }
      if (SteadyClock::now() > deadline) return;
      consumer_wakeup.wait_for(100ms);
    }
  }

  Channel<Rec> out;
  Channel<Rec> in;
  ChannelKey key;
  TaskWakeup consumer_wakeup;
  size_t max_inbound_queued = 0;
};

// ---- the element codec ----------------------------------------------------------

Element<Rec> round_trip(const Element<Rec>& e) {
  std::string bytes;
  encode_element(e, bytes);
  return decode_element<Rec>(bytes);
}

TEST(DataPlaneCodec, RoundTripsEveryElementKind) {
  Element<Rec> batch;
  batch.batch = {{{"a", 1}, 5},
                 {{"", -7}, kMinTimestamp},
                 {{std::string(300, 'x'), 0}, kMaxTimestamp},
                 {{"b", 2}, -1},
                 {{"c", 3}, 0}};
  Element<Rec> got = round_trip(batch);
  ASSERT_EQ(got.kind, ElementKind::kBatch);
  ASSERT_EQ(got.batch.size(), batch.batch.size());
  for (size_t i = 0; i < batch.batch.size(); ++i) {
    EXPECT_EQ(got.batch[i].value, batch.batch[i].value);
    EXPECT_EQ(got.batch[i].timestamp, batch.batch[i].timestamp);
  }

  EXPECT_TRUE(round_trip(Element<Rec>{}).batch.empty());

  Element<Rec> watermark;
  watermark.kind = ElementKind::kWatermark;
  for (Timestamp w : {kMinTimestamp, Timestamp{-3}, Timestamp{123456789}, kMaxTimestamp}) {
    watermark.watermark = w;
    got = round_trip(watermark);
    EXPECT_EQ(got.kind, ElementKind::kWatermark);
    EXPECT_EQ(got.watermark, w);
  }

  Element<Rec> barrier;
  barrier.kind = ElementKind::kBarrier;
  barrier.checkpoint = 42;
  got = round_trip(barrier);
  EXPECT_EQ(got.kind, ElementKind::kBarrier);
  EXPECT_EQ(got.checkpoint, 42);

  for (ElementKind kind : {ElementKind::kIdle, ElementKind::kActive, ElementKind::kEnd}) {
    Element<Rec> e;
    e.kind = kind;
    std::string bytes;
    encode_element(e, bytes);
    EXPECT_EQ(bytes.size(), 1u);
    EXPECT_EQ(decode_element<Rec>(bytes).kind, kind);
  }
}

TEST(DataPlaneCodec, RejectsMalformedBytes) {
  auto rejects = [](std::string_view bytes) {
    try {
      decode_element<Rec>(bytes);
    } catch (const InputError&) {
      return true;
    }
    return false;
  };
  EXPECT_TRUE(rejects(""));
  EXPECT_TRUE(rejects(std::string(1, '\x06')));  // one past kEnd
  EXPECT_TRUE(rejects(std::string(1, '\xff')));
  EXPECT_TRUE(rejects(std::string("\x05\x00", 2)));  // end with a trailing byte

  Element<Rec> batch;
  for (int i = 0; i < 20; ++i) batch.batch.push_back({value_of(i), timestamp_of(i)});
  std::string good;
  encode_element(batch, good);
  ASSERT_FALSE(rejects(good));
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_TRUE(rejects(std::string_view(good).substr(0, n))) << "prefix of " << n << " bytes";
  }
  EXPECT_TRUE(rejects(good + "x"));

  // A count far beyond the limit, and one beyond the bytes that follow.
  std::string huge = good;
  uint32_t count = 0x7fffffff;
  std::memcpy(huge.data() + 1, &count, sizeof count);
  EXPECT_TRUE(rejects(huge));
  std::string inconsistent = good;
  count = static_cast<uint32_t>(good.size());
  std::memcpy(inconsistent.data() + 1, &count, sizeof count);
  EXPECT_TRUE(rejects(inconsistent));

  Element<Rec> watermark;
  watermark.kind = ElementKind::kWatermark;
  std::string w;
  encode_element(watermark, w);
  EXPECT_TRUE(rejects(std::string_view(w).substr(0, w.size() - 1)));
}

TEST(DataPlaneCodec, EncoderSplitsLargeBatchesAndDecoderRefills) {
  constexpr int64_t kRecords = 3 * static_cast<int64_t>(kMaxWireBatchRecords) + 17;
  Channel<Rec> out(2);
  Channel<Rec> in(8);
  auto encoder = TypedStreamOps<Rec>::instance()->make_encoder(&out);
  auto decoder = TypedStreamOps<Rec>::instance()->make_decoder(&in);
  Element<Rec> big;
  for (int64_t i = 0; i < kRecords; ++i) big.batch.push_back({value_of(i), timestamp_of(i)});
  out.push(std::move(big));
  Element<Rec> end;
  end.kind = ElementKind::kEnd;
  out.push(std::move(end));

  std::string bytes;
  int frames = 0;
  while (encoder->encode_next(bytes)) {
    decoder->decode_into_channel(bytes);
    bytes.clear();
    ++frames;
  }
  EXPECT_EQ(frames, 5);  // four batch parts and the end
  EXPECT_EQ(in.queued(), 5u);
  int64_t next = 0;
  Element<Rec> e;
  while (in.try_pop(e)) {
    if (e.kind == ElementKind::kEnd) break;
    EXPECT_LE(e.batch.size(), kMaxWireBatchRecords);
    for (const Record<Rec>& r : e.batch) {
      ASSERT_EQ(r.value, value_of(next));
      ASSERT_EQ(r.timestamp, timestamp_of(next));
      ++next;
    }
  }
  EXPECT_EQ(next, kRecords);
  EXPECT_EQ(e.kind, ElementKind::kEnd);
}

TEST(DataPlaneCodec, CreditedPushRefusesOverflowAndPopsAreReported) {
  struct CountingListener final : PopListener {
    void on_pop() override { ++pops; }
    int pops = 0;
  } listener;
  Channel<Rec> in(2);
  in.set_pop_listener(&listener);
  in.push_credited(Element<Rec>{});
  in.push_credited(Element<Rec>{});
  EXPECT_THROW(in.push_credited(Element<Rec>{}), InputError);
  Element<Rec> e;
  EXPECT_TRUE(in.try_pop(e));
  EXPECT_TRUE(in.try_pop(e));
  EXPECT_FALSE(in.try_pop(e));
  EXPECT_EQ(listener.pops, 2);
  in.cancel();
  in.push_credited(Element<Rec>{});  // dropped: nobody reads a cancelled channel
  EXPECT_EQ(in.queued(), 0u);
}

struct NoCodec {
  int x = 0;
};
struct FieldsWithoutCodec {
  NoCodec inner;
  int64_t n = 0;
  SLUICE_FIELDS(inner, n)
};

TEST(DataPlaneCodec, TypesWithoutCodecCannotCrossProcesses) {
  auto expect_usage_error = [](const StreamTypeOps& ops) {
    auto channel = ops.make_channel(4);  // local runs still work
    try {
      ops.make_encoder(channel.get());
      ADD_FAILURE() << "make_encoder did not throw";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("has no codec"), std::string::npos) << e.what();
    }
    EXPECT_THROW(ops.make_decoder(channel.get()), UsageError);
  };
  expect_usage_error(*TypedStreamOps<NoCodec>::instance());
  expect_usage_error(*TypedStreamOps<std::pair<NoCodec, int>>::instance());
  expect_usage_error(*TypedStreamOps<std::vector<NoCodec>>::instance());
  expect_usage_error(*TypedStreamOps<FieldsWithoutCodec>::instance());
  static_assert(WireEncodable<Rec>);
  static_assert(!WireEncodable<std::pair<NoCodec, int>>);
}

// ---- transfer ------------------------------------------------------------------

TEST(DataPlaneTransfer, EveryElementArrivesOnceInOrder) {
  Plane a("tm-a");
  Plane b("tm-b");
  connect({&a, &b});
  Link link(8, ChannelKey{1, 1, 0, 0, 0});
  link.wire(a, b);

  Script script{200'000, 1000};
  Verifier verifier(script);
  auto start = SteadyClock::now();
  std::thread producer([&] { produce(link.out, script); });
  link.consume(verifier);
  double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  producer.join();

  EXPECT_EQ(verifier.error(), "");
  EXPECT_TRUE(verifier.ended());
  EXPECT_EQ(verifier.records(), script.records);
  EXPECT_LE(link.max_inbound_queued, 8u);
  EXPECT_EQ(a.lost.total() + b.lost.total(), 0u);
  DataPlaneStats sa = a->stats();
  DataPlaneStats sb = b->stats();
  std::printf(
      "[ info     ] %lld records in %.3f s: %.0f records/s, %.1f MB/s; %llu frames in %llu "
      "writes\n",
      static_cast<long long>(script.records), seconds, script.records / seconds,
      static_cast<double>(sa.bytes_sent) / seconds / 1e6,
      static_cast<unsigned long long>(sa.frames_sent), static_cast<unsigned long long>(sa.writes));
  // The counters are not compared: a sender counts a write after it
  // returns, which may be after the receiver handed on the last element.
  EXPECT_GT(sb.bytes_received, 0u);
  a->remove_attempt(1, 1);
  b->remove_attempt(1, 1);
}

TEST(DataPlaneBackpressure, StalledConsumerStopsTheProducer) {
  Plane a("tm-a");
  Plane b("tm-b");
  connect({&a, &b});
  constexpr size_t kCapacity = 4;
  Link link(kCapacity, ChannelKey{2, 1, 0, 0, 0});
  link.wire(a, b);

  Script script{40'000, 100};
  std::atomic<int64_t> pushes{0};
  std::thread producer([&] { produce(link.out, script, &pushes); });

  // Nobody pops: the inbound channel fills with the credited elements, then
  // the outbound one, then the producer blocks.
  ASSERT_TRUE(
      eventually([&] { return link.in.queued() == kCapacity && link.out.queued() == kCapacity; }));
  EXPECT_EQ(pushes.load(), static_cast<int64_t>(2 * kCapacity));
  uint64_t received = b->stats().bytes_received;
  // An observation window, not synchronisation: nothing may move in it.
  std::this_thread::sleep_for(200ms);  // sleep-ok: observation window, see above
  EXPECT_EQ(pushes.load(), static_cast<int64_t>(2 * kCapacity));
  EXPECT_EQ(link.in.queued(), kCapacity);
  EXPECT_EQ(link.out.queued(), kCapacity);
  EXPECT_EQ(b->stats().bytes_received, received);

  Verifier verifier(script);
  link.consume(verifier);
  producer.join();
  EXPECT_EQ(verifier.error(), "");
  EXPECT_TRUE(verifier.ended());
  EXPECT_LE(link.max_inbound_queued, kCapacity);
  EXPECT_EQ(a.lost.total() + b.lost.total(), 0u);
  a->remove_attempt(2, 1);
  b->remove_attempt(2, 1);
}

TEST(DataPlaneMultiplex, ManyChannelsBothWaysShareOneConnectionPerPair) {
  Plane a("tm-a");
  Plane b("tm-b");
  Plane c("tm-c");
  connect({&a, &b, &c});
  connect({&a, &b, &c});  // again: nothing new

  struct Route {
    Plane* from;
    Plane* to;
  };
  std::vector<Route> routes = {{&a, &b}, {&a, &b}, {&a, &b}, {&b, &a}, {&b, &a},
                               {&a, &c}, {&c, &a}, {&b, &c}, {&c, &b}};
  std::vector<std::unique_ptr<Link>> links;
  for (size_t i = 0; i < routes.size(); ++i) {
    links.push_back(std::make_unique<Link>(4, ChannelKey{3, 1, static_cast<uint32_t>(i), 0, 1}));
    links.back()->wire(*routes[i].from, *routes[i].to);
  }
  Script script{20'000, 500};
  std::vector<std::thread> threads;
  std::vector<std::unique_ptr<Verifier>> verifiers;
  for (auto& link : links) {
    verifiers.push_back(std::make_unique<Verifier>(script));
    Link* l = link.get();
    Verifier* v = verifiers.back().get();
    threads.emplace_back([l, &script] { produce(l->out, script); });
    threads.emplace_back([l, v] { l->consume(*v); });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < links.size(); ++i) {
    EXPECT_EQ(verifiers[i]->error(), "") << "link " << i;
    EXPECT_TRUE(verifiers[i]->ended()) << "link " << i;
    EXPECT_LE(links[i]->max_inbound_queued, 4u);
  }
  for (Plane* p : {&a, &b, &c}) {
    EXPECT_EQ((*p)->connection_count(), 2u) << p->plane->id();
    EXPECT_EQ((*p)->stats().connections_opened, 2u) << p->plane->id();
    EXPECT_EQ(p->lost.total(), 0u);
    (*p)->remove_attempt(3, 1);
  }
}

// ---- garbage -----------------------------------------------------------------

// A hand-made client.
class RawPeer {
 public:
  explicit RawPeer(uint16_t port) {
    socket_.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    timeval tv{10, 0};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  void send(std::string_view bytes) {
    boost::system::error_code ignored;  // the plane may have hung up already
    boost::asio::write(socket_, boost::asio::buffer(bytes.data(), bytes.size()), ignored);
  }
  static std::string frame(FrameKind kind, std::string_view payload) {
    std::string out;
    append_frame_header(out, kind, static_cast<uint32_t>(payload.size()));
    out.append(payload);
    return out;
  }
  // Says hello as `from` and reads the plane's hello.
  void hello(const std::string& from, const std::string& to) {
    std::string payload;
    ByteWriter w(payload);
    Codec<std::string>::encode(from, w);
    Codec<std::string>::encode(to, w);
    send(frame(FrameKind::kDataHello, payload));
    char header[kFrameHeaderBytes];
    ASSERT_TRUE(read_exactly(header, sizeof header));
    FrameHeader h = parse_frame_header(header, 4096);
    ASSERT_EQ(h.kind, FrameKind::kDataHello);
    std::string reply(h.length, '\0');
    ASSERT_TRUE(read_exactly(reply.data(), reply.size()));
  }
  // True when the plane closes the connection (within the receive timeout);
  // skips whatever it sends before.
  bool closed_by_plane() {
    char buf[4096];
    while (true) {
      ssize_t n = ::recv(socket_.native_handle(), buf, sizeof buf, 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
    }
  }

 private:
  using tcp = boost::asio::ip::tcp;
  bool read_exactly(char* data, size_t n) {
    while (n > 0) {
      ssize_t got = ::recv(socket_.native_handle(), data, n, 0);
      if (got <= 0) return false;
      data += got;
      n -= static_cast<size_t>(got);
    }
    return true;
  }
  boost::asio::io_context io_;
  tcp::socket socket_{io_};
};

std::string data_payload(const ChannelKey& key, std::string_view element) {
  std::string out;
  ByteWriter w(out);
  for (uint32_t v : {key.job, key.attempt, key.edge, key.producer, key.consumer}) {
    Codec<uint32_t>::encode(v, w);
  }
  out.append(element);
  return out;
}

TEST(DataPlaneGarbage, BadPeersAreDroppedAndOthersStillServed) {
  Plane b("tm-b");

  {
    SCOPED_TRACE("not a Sluice peer at all");
    RawPeer raw(b->port());
    raw.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_TRUE(raw.closed_by_plane());
    EXPECT_TRUE(eventually([&] { return b->stats().sockets_rejected == 1; }));
  }
  {
    SCOPED_TRACE("hello from a larger id: it should have been dialled");
    RawPeer raw(b->port());
    std::string payload;
    ByteWriter w(payload);
    Codec<std::string>::encode(std::string("tm-z"), w);
    Codec<std::string>::encode(std::string("tm-b"), w);
    raw.send(RawPeer::frame(FrameKind::kDataHello, payload));
    EXPECT_TRUE(raw.closed_by_plane());
    EXPECT_TRUE(eventually([&] { return b->stats().sockets_rejected == 2; }));
  }
  {
    SCOPED_TRACE("an oversized frame");
    RawPeer raw(b->port());
    raw.hello("tm-0", "tm-b");
    std::string header;
    append_frame_header(header, FrameKind::kData, kMaxDataFrameBytes + 1);
    raw.send(header);
    EXPECT_NE(b.lost.wait_for("tm-0").find("exceeds"), std::string::npos);
    EXPECT_TRUE(raw.closed_by_plane());
  }
  {
    SCOPED_TRACE("bad magic after the hello");
    RawPeer raw(b->port());
    raw.hello("tm-1", "tm-b");
    raw.send(std::string(64, 'z'));
    EXPECT_NE(b.lost.wait_for("tm-1").find("not a Sluice frame"), std::string::npos);
    EXPECT_TRUE(raw.closed_by_plane());
  }
  {
    SCOPED_TRACE("data for a channel nobody registered");
    RawPeer raw(b->port());
    raw.hello("tm-2", "tm-b");
    raw.send(RawPeer::frame(FrameKind::kData, data_payload(ChannelKey{9, 9, 9, 9, 9}, "\x05")));
    EXPECT_NE(b.lost.wait_for("tm-2").find("not registered"), std::string::npos);
    EXPECT_TRUE(raw.closed_by_plane());
  }
  Link bad_kind(4, ChannelKey{5, 1, 0, 0, 0});
  bad_kind.register_inbound(b, "tm-3");
  {
    SCOPED_TRACE("a malformed element");
    RawPeer raw(b->port());
    raw.hello("tm-3", "tm-b");
    raw.send(RawPeer::frame(FrameKind::kData, data_payload(bad_kind.key, "\x63")));
    EXPECT_NE(b.lost.wait_for("tm-3").find("unknown kind"), std::string::npos);
    EXPECT_TRUE(raw.closed_by_plane());
  }
  Link overflow(2, ChannelKey{5, 1, 1, 0, 0});
  overflow.register_inbound(b, "tm-4");
  {
    SCOPED_TRACE("more elements than credits");
    RawPeer raw(b->port());
    raw.hello("tm-4", "tm-b");
    std::string end = RawPeer::frame(FrameKind::kData, data_payload(overflow.key, "\x05"));
    raw.send(end + end + end);
    EXPECT_NE(b.lost.wait_for("tm-4").find("overflow"), std::string::npos);
    EXPECT_TRUE(raw.closed_by_plane());
    EXPECT_EQ(overflow.in.queued(), 2u);
  }
  {
    SCOPED_TRACE("a control frame on a data connection");
    RawPeer raw(b->port());
    raw.hello("tm-5", "tm-b");
    raw.send(RawPeer::frame(FrameKind::kControl, "x"));
    EXPECT_NE(b.lost.wait_for("tm-5").find("unexpected control frame"), std::string::npos);
    EXPECT_TRUE(raw.closed_by_plane());
  }
  EXPECT_EQ(b->connection_count(), 0u);
  b->remove_attempt(5, 1);

  // A proper peer still connects and transfers.
  Plane a("tm-a");
  connect({&a, &b});
  Link link(8, ChannelKey{6, 1, 0, 0, 0});
  link.wire(a, b);
  Script script{10'000, 100};
  Verifier verifier(script);
  std::thread producer([&] { produce(link.out, script); });
  link.consume(verifier);
  producer.join();
  EXPECT_EQ(verifier.error(), "");
  EXPECT_TRUE(verifier.ended());
  EXPECT_EQ(b.lost.count("tm-a"), 0u);
  EXPECT_EQ(a.lost.total(), 0u);
  a->remove_attempt(6, 1);
  b->remove_attempt(6, 1);
}

TEST(DataPlaneGarbage, SilentSocketsAreDroppedAfterTheHelloTimeout) {
  DataPlaneOptions options;
  options.hello_timeout = 200ms;
  Plane b("tm-b", options);
  RawPeer raw(b->port());
  EXPECT_TRUE(raw.closed_by_plane());  // long before the raw peer's 10 s receive timeout
  EXPECT_TRUE(eventually([&] { return b->stats().sockets_rejected == 1; }));
  EXPECT_EQ(b.lost.total(), 0u);
}

// ---- lost peers -------------------------------------------------------------

// Streams from `a` to `b` until `b` has seen some records, then stops the
// plane named `stopped`; the other one must report the loss.
void lose_peer_mid_transfer(bool stop_the_dialer) {
  Plane a("tm-a");
  Plane b("tm-b");
  connect({&a, &b});
  Link link(4, ChannelKey{7, 1, 0, 0, 0});
  link.wire(a, b);
  std::thread producer([&] { produce(link.out, Script{10'000'000, 100}); });

  Element<Rec> e;
  int64_t seen = 0;
  ASSERT_TRUE(eventually([&] {
    while (link.in.try_pop(e)) seen += static_cast<int64_t>(e.batch.size());
    return seen >= 20'000;
  }));
  Plane& stopped = stop_the_dialer ? a : b;
  Plane& survivor = stop_the_dialer ? b : a;
  auto start = SteadyClock::now();
  stopped->stop();
  std::string reason = survivor.lost.wait_for(stopped.plane->id(), 10s);
  EXPECT_NE(reason, "");
  std::printf("[ info     ] loss noticed after %lld ms: %s\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start)
                      .count()),
              reason.c_str());
  EXPECT_FALSE(survivor->connected_to(stopped.plane->id()));
  EXPECT_EQ(stopped.lost.total(), 0u);  // stop() reports nothing
  link.out.cancel();                    // the task manager would fail the job
  producer.join();
  EXPECT_EQ(survivor.lost.count(stopped.plane->id()), 1u);
  survivor->remove_attempt(7, 1);
  stopped->remove_attempt(7, 1);
}

TEST(DataPlanePeerLoss, AcceptorStoppedMidTransfer) {
  lose_peer_mid_transfer(false);
}

TEST(DataPlanePeerLoss, DialerStoppedMidTransfer) {
  lose_peer_mid_transfer(true);
}

TEST(DataPlanePeerLoss, ReconnectsToARestartedPeer) {
  Plane a("tm-a");
  auto b = std::make_unique<Plane>("tm-b");
  connect({&a, b.get()});
  b->plane.reset();  // killed
  EXPECT_NE(a.lost.wait_for("tm-b", 10s), "");

  Plane b2("tm-b");  // restarted, on another port
  connect({&a, &b2});
  Link link(4, ChannelKey{8, 2, 0, 0, 0});
  link.wire(a, b2);
  Script script{5'000, 100};
  Verifier verifier(script);
  std::thread producer([&] { produce(link.out, script); });
  link.consume(verifier);
  producer.join();
  EXPECT_EQ(verifier.error(), "");
  EXPECT_TRUE(verifier.ended());
  EXPECT_EQ(a.lost.count("tm-b"), 1u);
  EXPECT_EQ(a->stats().connections_opened, 2u);
  a->remove_attempt(8, 2);
  b2->remove_attempt(8, 2);
}

TEST(DataPlanePeerLoss, ANewHelloReplacesTheOldConnection) {
  // A restarted peer may dial before the old connection is seen to end.
  Plane b("tm-b");
  RawPeer first(b->port());
  first.hello("tm-0", "tm-b");
  ASSERT_TRUE(b->wait_connected("tm-0", kWait));
  RawPeer second(b->port());
  second.hello("tm-0", "tm-b");
  EXPECT_NE(b.lost.wait_for("tm-0").find("replaced"), std::string::npos);
  EXPECT_TRUE(first.closed_by_plane());
  EXPECT_TRUE(b->connected_to("tm-0"));
  EXPECT_EQ(b->stats().connections_opened, 2u);
  EXPECT_EQ(b.lost.count("tm-0"), 1u);
}

TEST(DataPlanePeerLoss, ConnectToNobodyNamesThePeer) {
  Plane a("tm-a");
  uint16_t unused;
  {
    Plane gone("tm-x");
    unused = gone->port();
  }
  try {
    a->connect_peers({DataPeer{"tm-x", "127.0.0.1", unused}});
    ADD_FAILURE() << "connect_peers did not throw";
  } catch (const ExternalError& e) {
    EXPECT_NE(std::string(e.what()).find("tm-x"), std::string::npos) << e.what();
  }
  EXPECT_EQ(a->connection_count(), 0u);
}

// ---- attempts and registration order --------------------------------------------

TEST(DataPlaneAttempts, RegistrationBeforeConnectionAndCreditsBeforeRegistration) {
  Plane a("tm-a");
  Plane b("tm-b");
  // Attempt 1: both ends registered before there is a connection.
  Link early(4, ChannelKey{10, 1, 0, 0, 0});
  early.wire(a, b);
  // Attempt 2: the consumer's end first, so its credits reach `a` before
  // the producer's end exists there.
  Link late(4, ChannelKey{10, 2, 0, 0, 0});
  late.register_inbound(b, "tm-a");
  connect({&a, &b});
  ASSERT_TRUE(eventually([&] { return a->stats().frames_received >= 2; }));  // both grants
  late.register_outbound(a, "tm-b");

  Script script{5'000, 100};
  for (Link* link : {&early, &late}) {
    Verifier verifier(script);
    std::thread producer([&] { produce(link->out, script); });
    link->consume(verifier);
    producer.join();
    EXPECT_EQ(verifier.error(), "");
    EXPECT_TRUE(verifier.ended());
  }
  EXPECT_EQ(a.lost.total() + b.lost.total(), 0u);
  for (uint32_t attempt : {1u, 2u}) {
    a->remove_attempt(10, attempt);
    b->remove_attempt(10, attempt);
  }
}

TEST(DataPlaneAttempts, DataForARemovedAttemptIsDropped) {
  Plane a("tm-a");
  Plane b("tm-b");
  connect({&a, &b});
  Link old(4, ChannelKey{11, 1, 0, 0, 0});
  old.wire(a, b);
  ASSERT_TRUE(eventually([&] { return a->stats().frames_received >= 1; }));  // the grant
  // The consumer's side ends the attempt first; the producer's side still
  // sends what its credits allow.
  b->remove_attempt(11, 1);
  for (int i = 0; i < 4; ++i) old.out.push(Element<Rec>{});
  EXPECT_TRUE(eventually([&] { return b->stats().dropped_frames == 4; }));
  EXPECT_EQ(old.in.queued(), 0u);
  a->remove_attempt(11, 1);

  // The next attempt uses the same connection.
  Link next(4, ChannelKey{11, 2, 0, 0, 0});
  next.wire(a, b);
  Script script{5'000, 100};
  Verifier verifier(script);
  std::thread producer([&] { produce(next.out, script); });
  next.consume(verifier);
  producer.join();
  EXPECT_EQ(verifier.error(), "");
  EXPECT_TRUE(verifier.ended());
  EXPECT_EQ(a.lost.total() + b.lost.total(), 0u);
  EXPECT_EQ(a->stats().connections_opened, 1u);
  EXPECT_EQ(b->stats().connections_opened, 1u);
  a->remove_attempt(11, 2);
  b->remove_attempt(11, 2);
}

TEST(DataPlaneAttempts, RemoveWhileStreamingIsSafe) {
  Plane a("tm-a");
  Plane b("tm-b");
  connect({&a, &b});
  for (uint32_t attempt = 1; attempt <= 5; ++attempt) {
    auto link = std::make_unique<Link>(4, ChannelKey{12, attempt, 0, 0, 0});
    link->wire(a, b);
    std::atomic<bool> stop{false};
    std::thread producer([&] { produce(link->out, Script{10'000'000, 100}); });
    std::thread consumer([&] {
      Element<Rec> e;
      while (!stop) {
        if (!link->in.try_pop(e)) link->consumer_wakeup.wait_for(10ms);
      }
    });
    ASSERT_TRUE(eventually([&] { return a->stats().frames_sent > attempt * 50; }));
    // As a task manager ends an attempt: stop the tasks, then forget the
    // channels, then free them.
    link->out.cancel();
    producer.join();
    stop = true;
    consumer.join();
    a->remove_attempt(12, attempt);
    b->remove_attempt(12, attempt);
    link.reset();
  }
  EXPECT_EQ(a.lost.total() + b.lost.total(), 0u);
  EXPECT_EQ(a->connection_count(), 1u);
}

}  // namespace
}  // namespace sluice
