// Frames: how every message travels on a Sluice TCP connection, control
// plane (protobuf envelopes) and data plane (record batches and credits)
// alike (design section 11).
//
//   offset 0  u32 magic   "SLCE" (0x534C4345), big-endian
//   offset 4  u16 version kProtocolVersion
//   offset 6  u16 kind    FrameKind
//   offset 8  u32 length  payload bytes that follow, at most the reader's maximum
//
// A reader checks the header before it reads the payload, so a peer that
// sends garbage or announces an oversized frame is refused before any
// memory is reserved for it.
//
// Threading: pure functions.
#pragma once

#include <cstdint>
#include <string>

namespace sluice {

inline constexpr uint32_t kFrameMagic = 0x534C4345;
inline constexpr uint16_t kProtocolVersion = 1;
inline constexpr size_t kFrameHeaderBytes = 12;
// Control messages are small; a data frame holds one encoded batch.
inline constexpr uint32_t kMaxControlFrameBytes = 4u << 20;
inline constexpr uint32_t kMaxDataFrameBytes = 64u << 20;

enum class FrameKind : uint16_t {
  kControl = 1,    // a protobuf pb::Envelope
  kDataHello = 2,  // opens a data connection: who is calling
  kData = 3,       // one stream element of one channel
  kCredit = 4      // the receiver frees buffers of one channel
};

struct FrameHeader {
  FrameKind kind = FrameKind::kControl;
  uint32_t length = 0;
};

// Appends a header for a payload of `length` bytes of `kind`.
void append_frame_header(std::string& out, FrameKind kind, uint32_t length);

// Parses and checks the kFrameHeaderBytes at `bytes`: magic, version, a
// known kind and a length of at most `max_length`. Throws InputError with a
// one-line reason otherwise.
FrameHeader parse_frame_header(const char* bytes, uint32_t max_length);

}  // namespace sluice
