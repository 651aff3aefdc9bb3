// Files that detect their own corruption: an 8-byte magic, the payload's
// length, the payload and a 64-bit checksum (XXH3; files of the previous
// format, checked with the legacy hash, are still read). Writes go to a temporary name,
// are synced, then renamed into place and the directory synced, so a reader
// sees the whole file or none of it, also after a power cut. copy_file_durably publishes a copy of
// any file the same way. Pure functions over paths; safe from any thread for different paths.
#pragma once

#include <string>
#include <string_view>

namespace sluice {

// Writes `payload` to `path` atomically and durably (temporary name, file
// sync, rename, directory sync). `before_rename` names a fault point
// between the sync and the rename. Throws ExternalError on I/O errors.
void write_checksummed_file(const std::string& path, std::string_view payload,
                            const char* before_rename = nullptr);

// Reads and verifies a file written by write_checksummed_file. Throws
// InputError "PATH: ..." when it is truncated, corrupt or not such a file,
// ExternalError when it cannot be read.
std::string read_checksummed_file(const std::string& path);

// Copies `source` to `path` through a temporary name, synced, then renamed.
// Throws ExternalError on I/O errors.
void copy_file_durably(const std::string& source, const std::string& path);

}  // namespace sluice
