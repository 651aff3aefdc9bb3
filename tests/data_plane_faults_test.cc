// The data plane under faults: garbage from the network, lost peers, and
// attempts registered, removed and replaced. DataPlane instances in one
// process on loopback, real sockets; threads synchronise on conditions with
// bounded waits.
#include <gtest/gtest.h>

#include "tests/data_plane_support.h"

namespace sluice {
namespace {

using namespace data_plane_testing;  // NOLINT: test helpers

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
  expect_delivered(link, script);
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
  expect_delivered(link, script);
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
    expect_delivered(*link, script);
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
  expect_delivered(next, script);
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
