// What runs on an identified data connection: its receiver and sender
// threads, the credit flow and how the connection ends
// (runtime/cluster/data_plane_impl.h).
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>
#include <exception>
#include <mutex>
#include <utility>

#include <boost/asio.hpp>
#include <fmt/format.h>

#include "runtime/cluster/data_plane_impl.h"
#include "runtime/core/codec.h"
#include "runtime/core/errors.h"

namespace sluice {

using namespace data_plane_detail;

namespace {

static_assert(std::endian::native == std::endian::little,
              "the data plane's payloads are little-endian (the codecs' byte order)");

constexpr size_t kChannelKeyBytes = 5 * sizeof(uint32_t);
// Credits remembered for outbound channels not registered yet, per peer.
constexpr size_t kMaxEarlyCredits = 1u << 16;
constexpr size_t kReadBufferBytes = 256u << 10;
// A receive buffer grown for a large frame shrinks back above this size.
constexpr size_t kKeepReadBufferBytes = 8u << 20;

void put_key(std::string& out, const ChannelKey& key) {
  ByteWriter w(out);
  for (uint32_t v : {key.job, key.attempt, key.edge, key.producer, key.consumer}) {
    Codec<uint32_t>::encode(v, w);
  }
}

ChannelKey read_key(ByteReader& r) {
  ChannelKey key;
  key.job = Codec<uint32_t>::decode(r);
  key.attempt = Codec<uint32_t>::decode(r);
  key.edge = Codec<uint32_t>::decode(r);
  key.producer = Codec<uint32_t>::decode(r);
  key.consumer = Codec<uint32_t>::decode(r);
  return key;
}

void append_credit_frame(std::string& out, const ChannelKey& key, uint32_t count) {
  append_frame_header(out, FrameKind::kCredit, kChannelKeyBytes + sizeof count);
  put_key(out, key);
  ByteWriter w(out);
  Codec<uint32_t>::encode(count, w);
}

// Reads frames through one reused buffer: a single read_some usually
// brings in many frames.
class FrameReader {
 public:
  FrameReader(tcp::socket& socket, std::atomic<uint64_t>& bytes_read)
      : socket_(socket), bytes_read_(bytes_read), capacity_(kReadBufferBytes) {
    buffer_ = std::make_unique_for_overwrite<char[]>(capacity_);
  }

  // Returns `n` buffered bytes, reading as needed; throws ExternalError
  // when the connection ends.
  const char* peek(size_t n) {
    if (end_ - begin_ >= n) return buffer_.get() + begin_;
    if (capacity_ - begin_ < n) make_room(n);
    while (end_ - begin_ < n) {
      ErrorCode ec;
      size_t got = socket_.read_some(asio::buffer(buffer_.get() + end_, capacity_ - end_), ec);
      if (ec) {
        throw ExternalError(ec == asio::error::eof ? std::string("connection closed by the peer")
                                                   : fmt::format("read failed: {}", ec.message()));
      }
      end_ += got;
      bytes_read_.fetch_add(got, std::memory_order_relaxed);
    }
    return buffer_.get() + begin_;
  }

  void consume(size_t n) {
    begin_ += n;
    if (begin_ != end_) return;
    begin_ = end_ = 0;
    if (capacity_ > kKeepReadBufferBytes) {
      capacity_ = kReadBufferBytes;
      buffer_ = std::make_unique_for_overwrite<char[]>(capacity_);
    }
  }

 private:
  void make_room(size_t n) {
    size_t held = end_ - begin_;
    if (capacity_ < n) {
      size_t capacity = std::max(n, kReadBufferBytes);
      auto bigger = std::make_unique_for_overwrite<char[]>(capacity);
      std::memcpy(bigger.get(), buffer_.get() + begin_, held);
      buffer_ = std::move(bigger);
      capacity_ = capacity;
    } else {
      std::memmove(buffer_.get(), buffer_.get() + begin_, held);
    }
    begin_ = 0;
    end_ = held;
  }

  tcp::socket& socket_;
  std::atomic<uint64_t>& bytes_read_;
  std::unique_ptr<char[]> buffer_;
  size_t capacity_;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace

namespace data_plane_detail {

const char* frame_kind_name(FrameKind kind) {
  switch (kind) {
    case FrameKind::kControl:
      return "control";
    case FrameKind::kDataHello:
      return "hello";
    case FrameKind::kData:
      return "data";
    case FrameKind::kCredit:
      return "credit";
  }
  return "unknown";
}

void interrupt(tcp::socket& socket) {
  ::shutdown(socket.native_handle(), SHUT_RDWR);
}

}  // namespace data_plane_detail

void DataPlane::Impl::credit_freed(Inbound& in) {
  if (in.credits_to_return.fetch_add(1) != 0) return;  // already queued
  {
    std::lock_guard lock(mutex_);
    in.peer->credit_ready.push_back(in.key);
  }
  in.peer->sender_wakeup.notify();
}

void DataPlane::Impl::receiver_main(Connection& c) {
  receive_loop(c);
  c.threads_running.fetch_sub(1);
}

void DataPlane::Impl::receive_loop(Connection& c) {
  Peer& peer = *c.peer;
  FrameReader reader(c.socket, counters_.bytes_received);
  try {
    while (true) {
      FrameHeader h = parse_frame_header(reader.peek(kFrameHeaderBytes), kMaxDataFrameBytes);
      reader.consume(kFrameHeaderBytes);
      std::string_view payload(reader.peek(h.length), h.length);
      counters_.frames_received.fetch_add(1, std::memory_order_relaxed);
      switch (h.kind) {
        case FrameKind::kData:
          on_data(peer, payload);
          break;
        case FrameKind::kCredit:
          on_credit(peer, payload);
          break;
        default:
          throw InputError(
              fmt::format("unexpected {} frame on a data connection", frame_kind_name(h.kind)));
      }
      reader.consume(h.length);
    }
  } catch (const InputError& e) {
    fail(c, fmt::format("protocol error: {}", e.what()));
  } catch (const std::exception& e) {
    fail(c, e.what());
  }
}

bool DataPlane::Impl::attempt_removed_locked(const ChannelKey& key) const {
  return removed_attempts_.count({key.job, key.attempt}) != 0;
}

void DataPlane::Impl::on_data(Peer& peer, std::string_view payload) {
  ByteReader r(payload);
  ChannelKey key = read_key(r);
  std::lock_guard use(peer.receiver_use);
  ElementDecoder* decoder = nullptr;
  {
    std::lock_guard lock(mutex_);
    auto it = peer.inbound.find(key);
    if (it == peer.inbound.end()) {
      if (!attempt_removed_locked(key)) {
        throw InputError(
            fmt::format("data for channel {}, which is not registered", channel_key_name(key)));
      }
    } else if (!it->second->broken) {
      decoder = it->second->decoder.get();
    }
  }
  if (decoder == nullptr) {
    counters_.dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  try {
    decoder->decode_into_channel(payload.substr(kChannelKeyBytes));
  } catch (const InputError& e) {
    throw InputError(fmt::format("channel {}: {}", channel_key_name(key), e.what()));
  }
}

void DataPlane::Impl::on_credit(Peer& peer, std::string_view payload) {
  ByteReader r(payload);
  ChannelKey key = read_key(r);
  uint32_t count = Codec<uint32_t>::decode(r);
  if (!r.at_end() || count == 0) throw InputError("malformed credit frame");
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    auto it = peer.outbound.find(key);
    if (it != peer.outbound.end()) {
      if (!it->second->broken) {
        it->second->credits += count;
        wake = true;
      }
    } else if (!attempt_removed_locked(key)) {
      auto [early, added] = peer.early_credits.try_emplace(key, 0);
      if (added && peer.early_credits.size() > kMaxEarlyCredits) {
        throw InputError("credits for too many unregistered channels");
      }
      early->second += count;
    }
  }
  if (wake) peer.sender_wakeup.notify();
}

void DataPlane::Impl::sender_main(Connection& c) {
  Peer& peer = *c.peer;
  std::string out;
  std::vector<Outbound*> ready;
  std::vector<ChannelKey> credit_keys;
  try {
    while (!c.failed) {
      out.clear();
      if (out.capacity() > 4 * options_.write_batch_bytes + kKeepReadBufferBytes) {
        std::string().swap(out);  // after a huge element
      }
      {
        std::lock_guard use(peer.sender_use);
        fill(c, peer, out, ready, credit_keys);
      }
      if (out.empty()) {
        peer.sender_wakeup.wait_for(kIdleWait);
        continue;
      }
      asio::write(c.socket, asio::buffer(out));
      counters_.writes.fetch_add(1, std::memory_order_relaxed);
      counters_.bytes_sent.fetch_add(out.size(), std::memory_order_relaxed);
    }
  } catch (const boost::system::system_error& e) {
    fail(c, fmt::format("write failed: {}", e.code().message()));
  } catch (const std::exception& e) {
    fail(c, e.what());
  }
  c.threads_running.fetch_sub(1);
}

void DataPlane::Impl::fill(Connection& c, Peer& peer, std::string& out,
                           std::vector<Outbound*>& ready, std::vector<ChannelKey>& credit_keys) {
  ready.clear();
  uint64_t frames = 0;
  {
    std::lock_guard lock(mutex_);
    if (peer.connection != &c) return;
    credit_keys.swap(peer.credit_ready);
    for (const ChannelKey& key : credit_keys) {
      auto it = peer.inbound.find(key);
      if (it == peer.inbound.end() || it->second->broken) continue;
      uint32_t count = it->second->credits_to_return.exchange(0);
      if (count == 0) continue;
      append_credit_frame(out, key, count);
      ++frames;
    }
    credit_keys.clear();
    for (auto& [key, o] : peer.outbound) {
      if (!o->broken && (o->credits.load() > 0 || o->encoder->barrier_next())) {
        ready.push_back(o.get());
      }
    }
  }
  if (!ready.empty()) {
    // Start each fill at another channel, so none waits behind a busy one.
    std::rotate(ready.begin(),
                ready.begin() + static_cast<ptrdiff_t>(c.round_robin++ % ready.size()),
                ready.end());
    bool progress = true;
    while (progress && out.size() < options_.write_batch_bytes) {
      progress = false;
      for (Outbound* o : ready) {
        ElementEncoder::Encoded sent = append_data_frame(*o, out, o->credits.load() <= 0);
        if (sent == ElementEncoder::Encoded::kNothing) continue;
        if (sent == ElementEncoder::Encoded::kElement) o->credits.fetch_sub(1);
        ++frames;
        progress = true;
        if (out.size() >= options_.write_batch_bytes) break;
      }
    }
  }
  counters_.frames_sent.fetch_add(frames, std::memory_order_relaxed);
}

ElementEncoder::Encoded DataPlane::Impl::append_data_frame(Outbound& o, std::string& out,
                                                           bool barrier_only) {
  size_t start = out.size();
  out.append(kFrameHeaderBytes, '\0');
  put_key(out, o.key);
  ElementEncoder::Encoded sent = o.encoder->encode_next(out, barrier_only);
  if (sent == ElementEncoder::Encoded::kNothing) {
    out.resize(start);
    return sent;
  }
  size_t length = out.size() - start - kFrameHeaderBytes;
  if (length > kMaxDataFrameBytes) {
    throw InputError(fmt::format(
        "an element of channel {} encodes to {} bytes, more than a data frame's {} bytes",
        channel_key_name(o.key), length, kMaxDataFrameBytes));
  }
  std::string header;  // 12 bytes: no allocation
  append_frame_header(header, FrameKind::kData, static_cast<uint32_t>(length));
  std::memcpy(out.data() + start, header.data(), kFrameHeaderBytes);
  return sent;
}

DataPlane::Impl::Loss DataPlane::Impl::fail_locked(Connection& c) {
  Loss loss;
  if (c.failed.exchange(true)) return loss;
  interrupt(c.socket);
  if (c.peer == nullptr) return loss;
  c.peer->sender_wakeup.notify();
  if (c.peer->connection != &c) return loss;
  detach_locked(*c.peer);
  loss.peer = c.peer;
  loss.remote = c.remote;
  return loss;
}

void DataPlane::Impl::fail(Connection& c, const std::string& reason) {
  Loss loss;
  {
    std::lock_guard lock(mutex_);
    loss = fail_locked(c);
  }
  report(loss, reason);
}

void DataPlane::Impl::report(const Loss& loss, const std::string& reason) {
  if (loss.peer == nullptr || stopping_flag_) return;
  counters_.lost.fetch_add(1);
  logger()->warn("data plane {}: lost the connection to peer {} ({}): {}", self_id_, loss.peer->id,
                 loss.remote, reason);
  if (!on_peer_lost_) return;
  try {
    on_peer_lost_(loss.peer->id, reason);
  } catch (const std::exception& e) {
    logger()->error("data plane {}: on_peer_lost for {} failed: {}", self_id_, loss.peer->id,
                    e.what());
  }
}

void DataPlane::Impl::detach_locked(Peer& peer) {
  peer.connection = nullptr;
  for (auto& [key, out] : peer.outbound) {
    out->broken = true;
    out->credits = 0;
  }
  for (auto& [key, in] : peer.inbound) in->broken = true;
  peer.early_credits.clear();
  peer.credit_ready.clear();
}

}  // namespace sluice
