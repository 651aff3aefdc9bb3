// The data plane: the element codec, transfer, credits and backpressure,
// and one connection per pair of task managers. Two or three DataPlane
// instances in one process on loopback, real sockets; threads synchronise
// on conditions with bounded waits.
#include <deque>

#include <gtest/gtest.h>

#include "tests/data_plane_support.h"

namespace sluice {
namespace {

using namespace data_plane_testing;  // NOLINT: test helpers

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

  for (ElementKind kind : {ElementKind::kBarrier, ElementKind::kBarrierMark}) {
    for (CheckpointKind checkpoint_kind : {CheckpointKind::kCheckpoint, CheckpointKind::kSavepoint,
                                           CheckpointKind::kStopSavepoint}) {
      Element<Rec> barrier;
      barrier.kind = kind;
      barrier.checkpoint = 42;
      barrier.checkpoint_kind = checkpoint_kind;
      got = round_trip(barrier);
      EXPECT_EQ(got.kind, kind);
      EXPECT_EQ(got.checkpoint, 42);
      EXPECT_EQ(got.checkpoint_kind, checkpoint_kind);
    }
  }

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
  EXPECT_TRUE(rejects(std::string(1, '\x08')));  // one past kBarrierMark
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

  // A barrier of an unknown checkpoint kind, or without its kind.
  Element<Rec> barrier;
  barrier.kind = ElementKind::kBarrier;
  barrier.checkpoint = 7;
  std::string b;
  encode_element(barrier, b);
  ASSERT_FALSE(rejects(b));
  EXPECT_TRUE(rejects(std::string_view(b).substr(0, b.size() - 1)));
  b.back() = static_cast<char>(kLastCheckpointKind + 1);
  EXPECT_TRUE(rejects(b));
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
  while (encoder->encode_next(bytes, false) != ElementEncoder::Encoded::kNothing) {
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
  testing::CountingPopListener listener;
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

// Unaligned mode on a remote edge: a checkpoint's barrier goes to the front
// of the receiving channel, with a mark where it arrived; a savepoint's stays
// in line behind the records, since savepoints are always aligned.
TEST(DataPlaneCodec, OnlyACheckpointsBarrierOvertakesInAnUnalignedChannel) {
  for (CheckpointKind kind :
       {CheckpointKind::kCheckpoint, CheckpointKind::kSavepoint, CheckpointKind::kStopSavepoint}) {
    Channel<Rec> in(4);
    in.set_priority_barriers(true);
    Element<Rec> batch;
    batch.batch.push_back({value_of(1), timestamp_of(1)});
    in.push_credited(std::move(batch));
    Element<Rec> barrier;
    barrier.kind = ElementKind::kBarrier;
    barrier.checkpoint = 5;
    barrier.checkpoint_kind = kind;
    in.push_credited(std::move(barrier));
    std::vector<ElementKind> order;
    Element<Rec> e;
    while (in.try_pop(e)) order.push_back(e.kind);
    std::vector<ElementKind> expected =
        kind == CheckpointKind::kCheckpoint
            ? std::vector<ElementKind>{ElementKind::kBarrier, ElementKind::kBatch,
                                       ElementKind::kBarrierMark}
            : std::vector<ElementKind>{ElementKind::kBatch, ElementKind::kBarrier};
    EXPECT_EQ(order, expected) << "checkpoint kind " << static_cast<int>(kind);
  }
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
  EXPECT_LE(link.max_inbound_queued, 8u + 1);  // the script's barrier takes no credit
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

// Two connected planes and one link of `capacity` from a to b.
struct LinkedPair {
  LinkedPair(size_t capacity, ChannelKey key) : link(capacity, key) {
    connect({&a, &b});
    link.wire(a, b);
  }
  Plane a{"tm-a"};
  Plane b{"tm-b"};
  Link link;
};

TEST(DataPlaneBackpressure, StalledConsumerStopsTheProducer) {
  constexpr size_t kCapacity = 4;
  LinkedPair pair(kCapacity, ChannelKey{2, 1, 0, 0, 0});
  Plane& a = pair.a;
  Plane& b = pair.b;
  Link& link = pair.link;

  Script script{40'000, 100};
  std::atomic<int64_t> pushes{0};
  std::thread producer([&] { produce(link.out, script, &pushes); });

  // Nobody pops: the inbound channel fills with the credited elements, then
  // the outbound one up to its overdraft (twice its capacity), then the
  // producer blocks.
  ASSERT_TRUE(eventually(
      [&] { return link.in.queued() == kCapacity && link.out.queued() == 2 * kCapacity; }));
  EXPECT_EQ(pushes.load(), static_cast<int64_t>(3 * kCapacity));
  uint64_t received = b->stats().bytes_received;
  // An observation window, not synchronisation: nothing may move in it.
  std::this_thread::sleep_for(200ms);  // sleep-ok: observation window, see above
  EXPECT_EQ(pushes.load(), static_cast<int64_t>(3 * kCapacity));
  EXPECT_EQ(link.in.queued(), kCapacity);
  EXPECT_EQ(link.out.queued(), 2 * kCapacity);
  EXPECT_EQ(b->stats().bytes_received, received);

  Verifier verifier(script);
  link.consume(verifier);
  producer.join();
  EXPECT_EQ(verifier.error(), "");
  EXPECT_TRUE(verifier.ended());
  EXPECT_LE(link.max_inbound_queued, kCapacity + 1);  // the script's barrier takes no credit
  EXPECT_EQ(a.lost.total() + b.lost.total(), 0u);
  a->remove_attempt(2, 1);
  b->remove_attempt(2, 1);
}

// Unaligned checkpoints: a barrier takes no credit, so it crosses to a
// receiver whose channel is full and goes to the front there. The sender
// records what its barrier overtook in its own channel; the receiver marks
// where the barrier arrived, so its consumer records only what had arrived
// before: the two recordings together are what was in flight, once each.
TEST(DataPlaneBackpressure, ABarrierOvertakesAFullReceiver) {
  constexpr size_t kCapacity = 2;
  LinkedPair pair(kCapacity, ChannelKey{3, 1, 0, 0, 0});
  Link& link = pair.link;
  link.in.set_priority_barriers(true);
  link.out.set_records_overtaken(true);
  auto batch = [](int64_t i) {
    Element<Rec> e;
    e.batch.push_back({value_of(i), timestamp_of(i)});
    return e;
  };
  for (int64_t i = 0; i < 4; ++i) link.out.push(batch(i));
  ASSERT_TRUE(eventually([&] { return link.in.queued() == kCapacity; }));
  Element<Rec> barrier;
  barrier.kind = ElementKind::kBarrier;
  barrier.checkpoint = 9;
  link.out.push_priority_recording(std::move(barrier), [](const Element<Rec>& e, std::string& out) {
    append_recorded_element(e, out);
  });
  std::deque<Element<Rec>> overtaken;
  decode_recorded_elements<Rec>(link.out.take_overtaken(), overtaken);
  ASSERT_EQ(overtaken.size(), 2u);
  EXPECT_EQ(overtaken[0].batch.at(0).timestamp, timestamp_of(2));
  EXPECT_EQ(overtaken[1].batch.at(0).timestamp, timestamp_of(3));
  ASSERT_TRUE(eventually([&] { return link.in.queued() == kCapacity + 2; }))
      << "the barrier waited for a credit";
  Element<Rec> first;
  ASSERT_TRUE(link.in.try_pop(first));
  EXPECT_EQ(first.kind, ElementKind::kBarrier);
  EXPECT_EQ(first.checkpoint, 9);
  // Then what had arrived, the mark, and the rest with the credits the pops
  // return.
  std::vector<std::string> order;
  Element<Rec> e;
  ASSERT_TRUE(eventually([&] {
    while (link.in.try_pop(e)) {
      if (e.kind == ElementKind::kBatch) {
        order.push_back(std::to_string(e.batch[0].timestamp));
      } else if (e.kind == ElementKind::kBarrierMark) {
        order.push_back("mark " + std::to_string(e.checkpoint));
      }
    }
    return order.size() == 5;
  }));
  EXPECT_EQ(order, (std::vector<std::string>{
                       std::to_string(timestamp_of(0)), std::to_string(timestamp_of(1)), "mark 9",
                       std::to_string(timestamp_of(2)), std::to_string(timestamp_of(3))}));
  pair.a->remove_attempt(3, 1);
  pair.b->remove_attempt(3, 1);
}

// A mark never travels: a peer that sends one breaks the protocol.
TEST(DataPlaneBackpressure, AMarkFromAPeerIsRefused) {
  Channel<Rec> in(2);
  Element<Rec> mark;
  mark.kind = ElementKind::kBarrierMark;
  mark.checkpoint = 1;
  EXPECT_THROW(in.push_credited(std::move(mark)), InputError);
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
    EXPECT_LE(links[i]->max_inbound_queued, 4u + 1);  // the barrier takes no credit
  }
  for (Plane* p : {&a, &b, &c}) {
    EXPECT_EQ((*p)->connection_count(), 2u) << p->plane->id();
    EXPECT_EQ((*p)->stats().connections_opened, 2u) << p->plane->id();
    EXPECT_EQ(p->lost.total(), 0u);
    (*p)->remove_attempt(3, 1);
  }
}

}  // namespace
}  // namespace sluice
