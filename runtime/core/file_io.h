// The file-system calls whose order the checkpoint protocol and the file
// sink rely on, in one place, so that durability is done once and tests can
// inject faults into them (runtime/core/fault_injection.h).
//
// Durability on POSIX: data reaches the disk with fsync of the file; a new
// name (a create or a rename) reaches it only with fsync of the directory
// that holds it. So "write a file under a temporary name, sync it, rename it
// into place, sync the directory" survives a power cut: afterwards the file
// is there whole, or not at all (the temporary one may be). Renames that
// publish several files sync each directory once, after the last rename.
//
// The calls return 0 or an errno value and never throw; the throwing
// helpers below name the file and the reason in an ExternalError.
// Threading: pure functions over paths and descriptors; thread-safe.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace sluice::file_io {

// open(O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644); sets `fd`.
int create(const std::string& path, int& fd);
// Writes all of `bytes` (retrying short writes and EINTR).
int write_all(int fd, std::string_view bytes, const std::string& path);
// Writes `parts` one after the other, as one write to fault injection (a
// torn write tears their concatenation): a header, a large payload and a
// trailer go out without being copied into one buffer.
int write_all(int fd, std::initializer_list<std::string_view> parts, const std::string& path);
// fsync(fd).
int sync(int fd, const std::string& path);
// rename(2); not durable until the directories are synced.
int rename(const std::string& from, const std::string& to);
// fsync of the directory `dir`, which makes creates, renames and removals
// in it durable.
int sync_directory(const std::string& dir);

// The directory part of `path` ("." when it has none).
std::string directory_of(const std::string& path);

// Throwing forms: ExternalError "WHO: cannot ACTION PATH: REASON" (WHO and
// its colon are left out when `who` is empty).
[[noreturn]] void throw_error(const char* who, const char* action, const std::string& path,
                              int error_number);
void sync_directory_or_throw(const std::string& dir, const char* who = "");
// Renames `from` to `to` and syncs the directory of `to` (and of `from`
// when it differs): the rename survives a power cut.
void rename_durably(const std::string& from, const std::string& to, const char* who = "");
// The whole content of a (small) file: ExternalError when it cannot be read.
std::string read_whole_file(const std::string& path, const char* who = "");

}  // namespace sluice::file_io
