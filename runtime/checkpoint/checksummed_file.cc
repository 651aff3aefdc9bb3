#include "runtime/checkpoint/checksummed_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

#include "runtime/core/codec.h"
#include "runtime/core/errors.h"
#include "runtime/core/fault_injection.h"
#include "runtime/core/file_io.h"
#include "runtime/core/hash.h"

namespace sluice {
namespace {

// The file format's version is in its magic. SLUICE03: the checksum is
// hash_bytes (XXH3). SLUICE02: the checksum is legacy_hash_bytes; read, no
// longer written. SLUICE01 files came before every stored format carried a
// version of its own, and are not read.
constexpr std::string_view kMagic = "SLUICE03";
constexpr std::string_view kLegacyChecksumMagic = "SLUICE02";
constexpr std::string_view kUnversionedMagic = "SLUICE01";

[[noreturn]] void fail_io(const std::string& what, const std::string& path) {
  throw ExternalError(what + " " + path + ": " + std::strerror(errno));
}

void write_all(int fd, std::string_view bytes, const std::string& path) {
  if (int error = file_io::write_all(fd, bytes, path))
    file_io::throw_error("", "write", path, error);
}

// Writes `path` under a temporary name through `fill(fd, temporary)`,
// syncs it, renames it into place and syncs the directory: after a crash
// (or a power cut) the file is there whole or not at all.
// `before_rename` names a fault point hit between the sync and the rename.
template <class Fill>
void write_durably(const std::string& path, Fill fill, const char* before_rename = nullptr) {
  std::string temporary = path + ".tmp";
  int fd = -1;
  if (int error = file_io::create(temporary, fd))
    file_io::throw_error("", "create", temporary, error);
  try {
    fill(fd, temporary);
    if (int error = file_io::sync(fd, temporary))
      file_io::throw_error("", "sync", temporary, error);
  } catch (...) {
    ::close(fd);
    std::remove(temporary.c_str());
    throw;
  }
  if (::close(fd) != 0) fail_io("cannot close", temporary);
  if (before_rename != nullptr) SLUICE_FAULT_POINT(before_rename);
  file_io::rename_durably(temporary, path);
}

}  // namespace

void write_checksummed_file(const std::string& path, std::string_view payload,
                            const char* before_rename) {
  std::string header(kMagic);
  ByteWriter header_writer(header);
  Codec<uint64_t>::encode(payload.size(), header_writer);
  std::string trailer;
  ByteWriter trailer_writer(trailer);
  Codec<uint64_t>::encode(hash_bytes(payload), trailer_writer);
  write_durably(
      path,
      [&](int fd, const std::string& temporary) {
        // The payload (a whole snapshot) is written where it is, not copied.
        if (int error = file_io::write_all(fd, {header, payload, trailer}, temporary)) {
          file_io::throw_error("", "write", temporary, error);
        }
      },
      before_rename);
}

void copy_file_durably(const std::string& source, const std::string& path) {
  int in = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) fail_io("cannot open", source);
  try {
    write_durably(path, [&](int out, const std::string& temporary) {
      std::string buffer(size_t{1} << 20, '\0');
      while (true) {
        ssize_t n = ::read(in, buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail_io("cannot read", source);
        if (n == 0) return;
        write_all(out, std::string_view(buffer).substr(0, static_cast<size_t>(n)), temporary);
      }
    });
  } catch (...) {
    ::close(in);
    throw;
  }
  ::close(in);
}

std::string read_checksummed_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_io("cannot open", path);
  std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) fail_io("cannot read", path);
  std::string_view magic = std::string_view(bytes).substr(0, 8);
  if (magic == kUnversionedMagic) {
    throw InputError(path +
                     ": written by a Sluice before its stored formats had versions; this "
                     "version cannot read it");
  }
  bool legacy_checksum = magic == kLegacyChecksumMagic;
  if (bytes.size() < kMagic.size() + 16 || (magic != kMagic && !legacy_checksum)) {
    throw InputError(path + ": not a checkpoint file or truncated");
  }
  ByteReader reader(std::string_view(bytes).substr(kMagic.size()));
  uint64_t length = Codec<uint64_t>::decode(reader);
  if (length != reader.remaining() - 8) {
    throw InputError(path + ": truncated (expected " + std::to_string(length) +
                     " bytes of payload)");
  }
  std::string payload(reader.read_view(length));
  uint64_t checksum = legacy_checksum ? legacy_hash_bytes(payload) : hash_bytes(payload);
  if (Codec<uint64_t>::decode(reader) != checksum) {
    throw InputError(path + ": checksum mismatch (corrupt)");
  }
  return payload;
}

}  // namespace sluice
