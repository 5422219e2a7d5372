#include "lazy/zstd_chunked_toc.hpp"

#include "util/error.hpp"
#include "util/hash.hpp"

#include <charconv>
#include <cstring>
#include <vector>
#include <zstd.h>

namespace gantry::lazy::zstd_chunked {

namespace {

constexpr std::string_view kOldMagic = "GnUlInUx";
constexpr std::string_view kMagic = "GNUlInUx";

[[noreturn]] void refuse(const std::string& what, const std::string& why) {
    throw Error(Errc::invalid, what + ": " + why,
                "the image was damaged or altered; pull it without --lazy, or push it again "
                "with gantry push --compression zstd:chunked");
}

std::uint64_t le64(std::string_view s, std::size_t at) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i)
        v |= static_cast<std::uint64_t>(static_cast<unsigned char>(s[at + i])) << (8 * i);
    return v;
}

void put_le(std::string& s, std::uint64_t v, std::size_t bytes) {
    for (std::size_t i = 0; i < bytes; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
}

// "a:b:c[:d]": exactly N unsigned decimal numbers
bool parse_numbers(std::string_view s, std::size_t n, std::uint64_t* out) {
    for (std::size_t i = 0; i < n; ++i) {
        std::size_t end = s.find(':');
        if ((end == std::string_view::npos) != (i + 1 == n)) return false; // too few or many
        if (end == std::string_view::npos) end = s.size();
        auto r = std::from_chars(s.data(), s.data() + end, out[i], 10);
        if (end == 0 || r.ec != std::errc() || r.ptr != s.data() + end) return false;
        s.remove_prefix(std::min(s.size(), end + 1));
    }
    return true;
}

bool is_sha256(const std::string& d) {
    return d.size() == 71 && d.starts_with("sha256:") &&
           d.find_first_not_of("0123456789abcdef", 7) == std::string::npos;
}

// the bytes at P (inside the blob, before its last kOldFooterSize bytes, within LIMIT),
// checked against CHECKSUM, then decompressed to exactly P.uncompressed bytes
std::string verified_frame(const ReadAt& read, std::uint64_t blob_size, const Position& p,
                           std::uint64_t limit, const std::string& checksum, const char* name,
                           const std::string& what) {
    const std::string at = std::string("the ") + name + "'s position " + std::to_string(p.offset) +
                           "+" + std::to_string(p.compressed);
    if (p.offset > blob_size || p.compressed > blob_size - p.offset)
        refuse(what, at + " is past the blob's " + std::to_string(blob_size) + " bytes");
    if (p.offset < 8) // a skippable frame's magic and size come first
        refuse(what, at + " starts before the end of its skippable frame's 8-byte header (a " +
                         name + " starts at byte 8 or later)");
    if (p.compressed == 0) refuse(what, at + " is empty (0 compressed bytes)");
    if (p.uncompressed > limit || p.compressed > limit)
        refuse(what,
               std::string("the ") + name + " is over " + std::to_string(limit >> 20) + " MiB");
    std::string bytes = read(p.offset, static_cast<std::size_t>(p.compressed));
    if (bytes.size() != p.compressed) refuse(what, std::string("the ") + name + " is truncated");
    std::string got = "sha256:" + Sha256::hex_of(bytes);
    if (got != checksum)
        refuse(what, std::string("the ") + name + " has digest " + got + " but the manifest says " +
                         checksum);
    return decompress_exact(bytes, p.uncompressed, what + ": the " + name);
}

} // namespace

std::optional<Layout> layout_of(const std::map<std::string, std::string>& a,
                                const std::string& what) {
    Layout l;
    std::string prefix = kPrefix;
    auto pos = a.find(prefix + "manifest-position");
    if (pos == a.end()) {
        prefix = kOldPrefix;
        pos = a.find(prefix + "manifest-position");
        if (pos == a.end()) return std::nullopt;
        l.generation = Generation::old;
    }
    std::uint64_t v[4];
    if (!parse_numbers(pos->second, 4, v))
        refuse(what, prefix + "manifest-position is not offset:length:length:type: " +
                         pos->second.substr(0, 80));
    if (v[3] != 1)
        refuse(what, prefix + "manifest-position names a table of contents of type " +
                         std::to_string(v[3]) + "; only 1 (CRFS JSON) exists");
    l.toc = {v[0], v[1], v[2]};
    auto sum = a.find(prefix + "manifest-checksum");
    if (sum == a.end() || !is_sha256(sum->second))
        refuse(what, prefix + "manifest-checksum is missing or not a sha256 digest");
    l.toc_checksum = sum->second;
    if (auto ts = a.find(prefix + "tarsplit-position"); ts != a.end()) {
        if (l.generation == Generation::old || !parse_numbers(ts->second, 3, v))
            refuse(what, prefix + "tarsplit-position is not offset:length:length: " +
                             ts->second.substr(0, 80));
        l.tar_split = Position{v[0], v[1], v[2]};
    }
    if (auto ts = a.find(prefix + "tarsplit-checksum"); ts != a.end()) {
        if (!is_sha256(ts->second)) refuse(what, prefix + "tarsplit-checksum is not a digest");
        l.tar_split_checksum = ts->second;
    }
    return l;
}

std::map<std::string, std::string> annotations_of(const Layout& l) {
    const std::string p = l.generation == Generation::old ? kOldPrefix : kPrefix;
    std::map<std::string, std::string> a;
    a[p + "manifest-checksum"] = l.toc_checksum;
    a[p + "manifest-position"] = std::to_string(l.toc.offset) + ":" +
                                 std::to_string(l.toc.compressed) + ":" +
                                 std::to_string(l.toc.uncompressed) + ":1";
    if (l.tar_split)
        a[p + "tarsplit-position"] = std::to_string(l.tar_split->offset) + ":" +
                                     std::to_string(l.tar_split->compressed) + ":" +
                                     std::to_string(l.tar_split->uncompressed);
    if (!l.tar_split_checksum.empty()) a[p + "tarsplit-checksum"] = l.tar_split_checksum;
    return a;
}

bool parse_footer(std::string_view tail, Footer& out) {
    auto frame_at = [&](std::size_t size) -> std::string_view {
        if (tail.size() < size) return {};
        std::string_view f = tail.substr(tail.size() - size);
        std::string header;
        put_le(header, kSkippableMagic, 4);
        put_le(header, size - 8, 4);
        return f.substr(0, 8) == header ? f.substr(8) : std::string_view{};
    };
    auto common = [&](std::string_view p, Generation g, std::size_t size) {
        out = Footer{};
        out.generation = g;
        out.size = size;
        out.toc = {le64(p, 0), le64(p, 8), le64(p, 16)};
        out.toc_type = le64(p, 24);
    };
    if (auto p = frame_at(kFooterSize); p.size() == 64 && p.substr(56) == kMagic) {
        common(p, Generation::current, kFooterSize);
        out.tar_split = Position{le64(p, 32), le64(p, 40), le64(p, 48)};
        return true;
    }
    if (auto p = frame_at(kBuggyFooterSize);
        p.size() == 56 && p.substr(32, 8) == kOldMagic && p.substr(40) == std::string(16, '\0')) {
        common(p, Generation::current, kBuggyFooterSize);
        return true;
    }
    if (auto p = frame_at(kOldFooterSize); p.size() == 40 && p.substr(32) == kOldMagic) {
        common(p, Generation::old, kOldFooterSize);
        return true;
    }
    return false;
}

std::string skippable_frame(std::string_view payload) {
    std::string f;
    put_le(f, kSkippableMagic, 4);
    put_le(f, payload.size(), 4);
    f.append(payload);
    return f;
}

std::string footer_bytes(const Position& toc, const Position& ts) {
    std::string p;
    for (std::uint64_t v : {toc.offset, toc.compressed, toc.uncompressed, std::uint64_t{1},
                            ts.offset, ts.compressed, ts.uncompressed})
        put_le(p, v, 8);
    p.append(kMagic);
    return skippable_frame(p);
}

std::string decompress_exact(std::string_view in, std::uint64_t size, const std::string& what) {
    std::string out(static_cast<std::size_t>(size), '\0');
    // every frame in IN (data or skippable), into a buffer of exactly SIZE bytes: more is
    // refused by zstd (dstSize_tooSmall), never written
    std::size_t got = ZSTD_decompress(out.data(), out.size(), in.data(), in.size());
    if (ZSTD_isError(got))
        throw Error(Errc::invalid,
                    what + " does not decompress to its " + std::to_string(size) + " bytes (" +
                        ZSTD_getErrorName(got) + ")",
                    "the registry served damaged data; pull the image again");
    if (got != size)
        throw Error(Errc::invalid,
                    what + " decompresses to " + std::to_string(got) + " bytes, not its " +
                        std::to_string(size),
                    "the registry served damaged data; pull the image again");
    return out;
}

Toc read_toc(const ReadAt& read, std::uint64_t blob_size, const Layout& l, const std::string& what,
             std::string* json_out, TocBudget* budget) {
    std::string text = verified_frame(read, blob_size, l.toc, kMaxTocBytes, l.toc_checksum,
                                      "zstd:chunked table of contents", what);
    // no chunk may reach into the TOC's skippable frame
    Toc t = Toc::parse(text, l.toc.offset - 8, what, TocFormat::zstd_chunked, budget);
    t.json_digest = "sha256:" + Sha256::hex_of(text);
    if (json_out) *json_out = std::move(text);
    return t;
}

std::string read_tar_split(const ReadAt& read, std::uint64_t blob_size, const Position& at,
                           const std::string& checksum, const std::string& what) {
    if (!is_sha256(checksum))
        refuse(what, "the tar-split has no sha256 digest in the verified table of contents");
    return verified_frame(read, blob_size, at, kMaxTarSplitBytes, checksum, "tar-split", what);
}

} // namespace gantry::lazy::zstd_chunked

namespace gantry::lazy {

std::string decode_zstd_chunk(std::string_view compressed, const Chunk& chunk,
                              const std::string& what) {
    std::string out;
    if (chunk.codec == Codec::zeros)
        out.assign(static_cast<std::size_t>(chunk.size), '\0');
    else
        out = zstd_chunked::decompress_exact(compressed, chunk.size,
                                             what + ": the chunk at blob offset " +
                                                 std::to_string(chunk.offset));
    verify_chunk(out, chunk, what);
    return out;
}

} // namespace gantry::lazy
