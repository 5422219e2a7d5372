#include "util/exact_decompress.hpp"

#include "util/error.hpp"

#include <algorithm>
#include <climits>
#include <zlib.h>
#include <zstd.h>

namespace gantry::decompress {

namespace {

constexpr std::uint64_t kFirstChunk = 64 * 1024;
constexpr std::uint64_t kZstdBlockMax = 128 * 1024;

// The most bytes the zstd frame FRAME (whole: ZSTD_findFrameCompressedSize checked it) can
// decompress to, from its blocks' headers (RFC 8878 3.1.1): a raw or RLE block's size, at most
// 128 KiB (Block_Maximum_Size's bound) for a compressed one. The frame's declared content size is
// not trusted: a frame declaring 256 MiB over a few blocks is refused before anything is
// allocated. The header is read here as zstd.h's reader of it is not in its stable API.
std::uint64_t zstd_most(std::string_view frame) {
    const auto* f = reinterpret_cast<const unsigned char*>(frame.data());
    // a standard frame only (a skippable or legacy one: no bound, as before)
    if (frame.size() < 5 || f[0] != 0x28 || f[1] != 0xb5 || f[2] != 0x2f || f[3] != 0xfd)
        return UINT64_MAX;
    const unsigned descriptor = f[4], fcs_flag = descriptor >> 6;
    const bool single_segment = descriptor & 0x20;
    const std::uint64_t did_bytes[] = {0, 1, 2, 4},
                        fcs_bytes[] = {single_segment ? 1u : 0u, 2, 4, 8};
    std::uint64_t at =
        5 + (single_segment ? 0 : 1) + did_bytes[descriptor & 3] + fcs_bytes[fcs_flag];
    std::uint64_t most = 0;
    while (at + 3 <= frame.size()) {
        const std::uint32_t header =
            f[at] | (f[at + 1] << 8) | (static_cast<std::uint32_t>(f[at + 2]) << 16);
        const std::uint32_t type = (header >> 1) & 3, size = header >> 3;
        most += type == 2 ? kZstdBlockMax : size; // 0 raw, 1 RLE, 2 compressed
        at += 3 + (type == 1 ? 1 : size);
        if (header & 1) break; // the last block
    }
    return most;
}

} // namespace

std::string zlib_exact(std::string_view in, std::uint64_t expected, std::uint64_t& consumed,
                       const std::string& what, const std::string& whose) {
    if (expected > UINT_MAX)
        throw Error(Errc::invalid, what + " is too large for one zlib pass; refused");
    // The output grows as the stream fills it (doubling, up to `expected`): a stream that lies
    // about its size costs what it inflates to, not the declared size zeroed (a 32-byte CCOB
    // declaring 256 MiB zeroed 256 MiB on every read)
    std::string out(std::min<std::uint64_t>(expected, kFirstChunk), '\0');
    z_stream z{};
    if (inflateInit(&z) != Z_OK) throw Error(Errc::invalid, what + ": zlib initialisation failed");
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(std::min<std::uint64_t>(in.size(), UINT_MAX));
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    int rc = inflate(&z, Z_FINISH);
    // Z_BUF_ERROR with the output full: more to come (Z_FINISH may be given again, zlib.h)
    while (rc == Z_BUF_ERROR && z.avail_out == 0 && out.size() < expected) {
        const std::size_t have = out.size();
        out.resize(std::min<std::uint64_t>(expected, 2 * static_cast<std::uint64_t>(have)), '\0');
        z.next_out = reinterpret_cast<Bytef*>(out.data() + have);
        z.avail_out = static_cast<uInt>(out.size() - have);
        rc = inflate(&z, Z_FINISH);
    }
    std::uint64_t produced = z.total_out;
    consumed = z.total_in;
    inflateEnd(&z);
    // Z_BUF_ERROR with no room left: the stream holds more than it declared (a bomb).
    if (rc == Z_BUF_ERROR && produced == expected)
        throw Error(Errc::invalid, what + " inflates to more than " + whose + " declared " +
                                       std::to_string(expected) + " bytes; refused");
    if (rc != Z_STREAM_END)
        throw Error(Errc::invalid, what + ": zlib data is corrupt or truncated");
    if (produced != expected)
        throw Error(Errc::invalid, what + " inflates to " + std::to_string(produced) +
                                       " bytes, not the declared " + std::to_string(expected));
    return out;
}

std::string zstd_exact(std::string_view in, std::uint64_t expected, std::uint64_t& consumed,
                       const std::string& what) {
    std::size_t frame = ZSTD_findFrameCompressedSize(in.data(), in.size());
    if (ZSTD_isError(frame)) throw Error(Errc::invalid, what + " is corrupt or truncated");
    consumed = frame;
    unsigned long long content = ZSTD_getFrameContentSize(in.data(), frame);
    if (content == ZSTD_CONTENTSIZE_ERROR)
        throw Error(Errc::invalid, what + ": its frame header is corrupt");
    if (content != ZSTD_CONTENTSIZE_UNKNOWN && content != expected)
        throw Error(Errc::invalid, what + " holds " + std::to_string(content) +
                                       " bytes, not the declared " + std::to_string(expected));
    if (std::uint64_t most = zstd_most(in.substr(0, frame)); most < expected)
        throw Error(Errc::invalid, what + " holds at most " + std::to_string(most) +
                                       " bytes, not the declared " + std::to_string(expected));
    std::string out(expected, '\0');
    std::size_t got = ZSTD_decompress(out.data(), out.size(), in.data(), frame);
    if (ZSTD_isError(got))
        throw Error(Errc::invalid, what + ": zstd decompression failed (" + ZSTD_getErrorName(got) +
                                       "; more than the declared " + std::to_string(expected) +
                                       " bytes, or corrupt)");
    if (got != expected)
        throw Error(Errc::invalid, what + " decompresses to " + std::to_string(got) +
                                       " bytes, not the declared " + std::to_string(expected));
    return out;
}

} // namespace gantry::decompress
