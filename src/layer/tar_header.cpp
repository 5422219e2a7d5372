#include "layer/tar_header.hpp"

#include "util/error.hpp"

#include <archive.h>
#include <cstdlib>
#include <cstring>

namespace gantry::layer {

void throw_bad_tar_checksum(const std::string& what, std::uint64_t offset) {
    throw Error(Errc::invalid,
                what + ": the tar header at byte offset " + std::to_string(offset) +
                    " has a bad checksum (the entry is damaged)",
                "the archive is corrupt or was modified; fetch or export the image again");
}

void check_tar_header(struct archive* a, int rc, const std::string& what) {
    if (rc == ARCHIVE_OK || rc == ARCHIVE_EOF) return;
    const char* msg = archive_error_string(a);
    // RETRY is the tar reader's checksum failure; after a pax or GNU long-name header the same
    // failure comes back as FATAL with the same message
    bool damaged = rc == ARCHIVE_RETRY || (rc < ARCHIVE_WARN && archive_errno(a) == EINVAL && msg &&
                                           std::strcmp(msg, "Damaged tar archive") == 0);
    if (!damaged) return;
    // libarchive has consumed the damaged header itself (and, in FATAL state, no longer answers
    // archive_read_header_position): the stream position less one block is where it starts
    la_int64_t read = archive_filter_bytes(a, 0);
    throw_bad_tar_checksum(what, read >= static_cast<la_int64_t>(kTarBlock)
                                     ? static_cast<std::uint64_t>(read) - kTarBlock
                                     : 0);
}

bool tar_checksum_ok(const unsigned char* block) {
    std::string_view digits(reinterpret_cast<const char*>(block) + 148, 8);
    while (!digits.empty() && digits.front() == ' ') digits.remove_prefix(1);
    digits = digits.substr(0, digits.find_first_of(std::string_view(" \0", 2)));
    if (digits.empty() || digits.find_first_not_of("01234567") != std::string_view::npos)
        return false;
    long stored = std::strtol(std::string(digits).c_str(), nullptr, 8);
    long usum = 0, ssum = 0;
    for (std::size_t i = 0; i < kTarBlock; ++i) {
        bool in_field = i >= 148 && i < 156;
        usum += in_field ? ' ' : block[i];
        ssum += in_field ? ' ' : static_cast<signed char>(block[i]);
    }
    return stored == usum || stored == ssum;
}

void check_first_tar_header(std::string_view first, const std::string& what) {
    if (first.size() < kTarBlock) return;
    auto* b = reinterpret_cast<const unsigned char*>(first.data());
    if (std::memcmp(b + 257, "ustar", 5) != 0) return; // not a ustar/GNU header: not a tar
    if (!tar_checksum_ok(b)) throw_bad_tar_checksum(what, 0);
}

} // namespace gantry::layer
