#include "util/exact_decompress.hpp"

#include "util/error.hpp"

#include <algorithm>
#include <climits>
#include <zlib.h>
#include <zstd.h>

namespace gantry::decompress {

std::string zlib_exact(std::string_view in, std::uint64_t expected, std::uint64_t& consumed,
                       const std::string& what, const std::string& whose) {
    if (expected > UINT_MAX)
        throw Error(Errc::invalid, what + " is too large for one zlib pass; refused");
    std::string out(expected, '\0');
    z_stream z{};
    if (inflateInit(&z) != Z_OK) throw Error(Errc::invalid, what + ": zlib initialisation failed");
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(std::min<std::uint64_t>(in.size(), UINT_MAX));
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(expected);
    int rc = inflate(&z, Z_FINISH);
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
