#include "runtime/checkpoint/checksummed_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "runtime/core/codec.h"
#include "runtime/core/errors.h"
#include "runtime/core/hash.h"

namespace sluice {
namespace {

constexpr std::string_view kMagic = "SLUICE01";

[[noreturn]] void fail_io(const std::string& what, const std::string& path) {
  throw ExternalError(what + " " + path + ": " + std::strerror(errno));
}

void write_all(int fd, const std::string& bytes, const std::string& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_io("cannot write", path);
    done += static_cast<size_t>(n);
  }
}

}  // namespace

void write_checksummed_file(const std::string& path, std::string_view payload) {
  std::string bytes(kMagic);
  ByteWriter writer(bytes);
  Codec<uint64_t>::encode(payload.size(), writer);
  bytes.append(payload);
  Codec<uint64_t>::encode(hash_bytes(payload), writer);

  std::string temporary = path + ".tmp";
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail_io("cannot create", temporary);
  try {
    write_all(fd, bytes, temporary);
    if (::fsync(fd) != 0) fail_io("cannot sync", temporary);
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0) fail_io("cannot close", temporary);
  if (::rename(temporary.c_str(), path.c_str()) != 0) fail_io("cannot rename to", path);
}

std::string read_checksummed_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_io("cannot open", path);
  std::ostringstream content;
  content << in.rdbuf();
  std::string bytes = content.str();
  if (bytes.size() < kMagic.size() + 16 || std::string_view(bytes).substr(0, 8) != kMagic) {
    throw InputError(path + ": not a checkpoint file or truncated");
  }
  ByteReader reader(std::string_view(bytes).substr(kMagic.size()));
  uint64_t length = Codec<uint64_t>::decode(reader);
  if (length != reader.remaining() - 8) {
    throw InputError(path + ": truncated (expected " + std::to_string(length) +
                     " bytes of payload)");
  }
  std::string payload(reader.read_view(length));
  if (Codec<uint64_t>::decode(reader) != hash_bytes(payload)) {
    throw InputError(path + ": checksum mismatch (corrupt)");
  }
  return payload;
}

}  // namespace sluice
