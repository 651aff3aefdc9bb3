#include "runtime/cluster/frame.h"

#include <fmt/format.h>

#include "runtime/core/errors.h"

namespace sluice {
namespace {

void put_u16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

void put_u32(std::string& out, uint32_t v) {
  put_u16(out, static_cast<uint16_t>(v >> 16));
  put_u16(out, static_cast<uint16_t>(v));
}

uint32_t get_u16(const char* p) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(p[0])) << 8) | static_cast<uint8_t>(p[1]);
}

uint32_t get_u32(const char* p) {
  return (get_u16(p) << 16) | get_u16(p + 2);
}

bool known_kind(uint32_t kind) {
  return kind >= static_cast<uint32_t>(FrameKind::kControl) &&
         kind <= static_cast<uint32_t>(FrameKind::kCredit);
}

}  // namespace

void append_frame_header(std::string& out, FrameKind kind, uint32_t length) {
  put_u32(out, kFrameMagic);
  put_u16(out, kProtocolVersion);
  put_u16(out, static_cast<uint16_t>(kind));
  put_u32(out, length);
}

FrameHeader parse_frame_header(const char* bytes, uint32_t max_length) {
  uint32_t magic = get_u32(bytes);
  if (magic != kFrameMagic) {
    throw InputError(fmt::format("not a Sluice frame (magic {:#010x})", magic));
  }
  uint32_t version = get_u16(bytes + 4);
  if (version != kProtocolVersion) {
    throw InputError(fmt::format("protocol version {} not supported (this is version {})", version,
                                 kProtocolVersion));
  }
  uint32_t kind = get_u16(bytes + 6);
  if (!known_kind(kind)) throw InputError(fmt::format("unknown frame kind {}", kind));
  uint32_t length = get_u32(bytes + 8);
  if (length > max_length) {
    throw InputError(
        fmt::format("frame of {} bytes exceeds the maximum of {} bytes", length, max_length));
  }
  return FrameHeader{static_cast<FrameKind>(kind), length};
}

}  // namespace sluice
