// layer/tar_header: damaged tar headers, for every libarchive tar reader in gantry (layer
// extraction, analyze's layer walk, the index of a docker-save or OCI archive).
//
// libarchive answers a header whose checksum does not match with ARCHIVE_RETRY ("Damaged tar
// archive"): a caller that treats it as a warning reads an empty entry, and one that asks again
// skips ahead to the next good header, so an entry vanished or the error named the wrong thing
// (black-box fuzzing found exit 0 and exit 3/7). A bad first header fails format detection
// instead ("Unrecognized archive format"). Both are invalid input: an Error(invalid) naming the
// tar and the byte offset of the damaged header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

struct archive;

namespace gantry::layer {

inline constexpr std::size_t kTarBlock = 512;

// Checks archive_read_next_header's result `rc`: a damaged header throws; every other result is
// left to the caller.
void check_tar_header(struct archive* a, int rc, const std::string& what);

// For a stream whose first header libarchive did not recognise: throws when `first` (its first
// 512 bytes) is a ustar/GNU header with a wrong checksum; returns when it is something else.
void check_first_tar_header(std::string_view first, const std::string& what);

// The POSIX header checksum test, as libarchive does it (unsigned sum, or the signed sum some
// old tars wrote, with the checksum field counted as spaces). `block` has 512 bytes.
bool tar_checksum_ok(const unsigned char* block);

[[noreturn]] void throw_bad_tar_checksum(const std::string& what, std::uint64_t offset);

} // namespace gantry::layer
