// What the data plane tests share: a deterministic stream of records,
// watermarks, a barrier and idleness (Script), its checker (Verifier), data
// planes on loopback that record lost peers (Plane), and one remote edge
// between two of them (Link).
//
// Threading: a Link's producer and consumer run on different threads, as
// the tests say; the rest belongs to the test's thread.
#pragma once

#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "runtime/cluster/data_plane.h"
#include "runtime/cluster/frame.h"
#include "runtime/graph/stream_type_ops.h"
#include "runtime/network/element_codec.h"
#include "tests/test_support.h"

namespace sluice::data_plane_testing {

using namespace std::chrono_literals;
using Rec = std::pair<std::string, int64_t>;
using SteadyClock = std::chrono::steady_clock;

// Generous: the machine may be busy with other builds.
constexpr auto kWait = 30s;

using testing::eventually;

// ---- a deterministic stream: records, watermarks, a barrier, idleness ------

inline Rec value_of(int64_t i) {
  return {fmt::format("key-{}", i % 977), i};
}
inline Timestamp timestamp_of(int64_t i) {
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
inline bool produce(Channel<Rec>& channel, const Script& script,
                    std::atomic<int64_t>* pushes = nullptr) {
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

inline void connect(std::vector<Plane*> planes) {
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

// Sends `script` through `link` from a producer thread and consumes it here;
// every element must arrive once and in order. Returns the records received.
inline int64_t expect_delivered(Link& link, const Script& script) {
  Verifier verifier(script);
  std::thread producer([&] { produce(link.out, script); });
  link.consume(verifier);
  producer.join();
  EXPECT_EQ(verifier.error(), "");
  EXPECT_TRUE(verifier.ended());
  return verifier.records();
}

}  // namespace sluice::data_plane_testing
