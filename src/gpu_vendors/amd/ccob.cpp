#include "gpu_vendors/amd/ccob.hpp"

#include "util/error.hpp"
#include "util/exact_decompress.hpp"
#include "util/nettle.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <set>
#include <zlib.h>
#include <zstd.h>

namespace gantry::gpu_vendors::amd::ccob {

namespace {

constexpr std::uint64_t kEntryFixed = 24; // u64 offset, size, ID length
constexpr std::uint64_t kMaxAlign = 64 * 1024;

template <typename T>
T get(std::string_view b, std::uint64_t at) { // callers check the range first
    T v{};
    std::memcpy(&v, b.data() + at, sizeof(T));
    return v;
}

template <typename T>
void put(std::string& s, T v) {
    s.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

[[noreturn]] void fail(const std::string& what) {
    throw Error(Errc::invalid, what);
}

bool fits(std::uint64_t off, std::uint64_t len, std::uint64_t n) {
    return off <= n && len <= n - off;
}

std::string compress_with(unsigned method, std::string_view in, int level) {
    if (method == 0) {
        uLongf n = compressBound(static_cast<uLong>(in.size()));
        std::string out(n, '\0');
        if (compress2(reinterpret_cast<Bytef*>(out.data()), &n,
                      reinterpret_cast<const Bytef*>(in.data()), static_cast<uLong>(in.size()),
                      level) != Z_OK)
            return {};
        out.resize(n);
        return out;
    }
    std::string out(ZSTD_compressBound(in.size()), '\0');
    std::size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), level);
    if (ZSTD_isError(n)) return {};
    out.resize(n);
    return out;
}

} // namespace

Bundle parse_bundle(std::string_view b) {
    if (b.size() < kBundleMagic.size() + 8 || !b.starts_with(kBundleMagic))
        fail("truncated, or no __CLANG_OFFLOAD_BUNDLE__ magic");
    std::uint64_t count = get<std::uint64_t>(b, kBundleMagic.size());
    std::uint64_t pos = kBundleMagic.size() + 8;
    if (count == 0) fail("declares no entries");
    if (count > (b.size() - pos) / (kEntryFixed + 1))
        fail("declares " + std::to_string(count) + " entries, more than its " +
             std::to_string(b.size()) + " bytes can hold");
    Bundle out;
    std::set<std::string, std::less<>> ids;
    for (std::uint64_t i = 0; i < count; ++i) {
        std::string which = "entry " + std::to_string(i);
        if (!fits(pos, kEntryFixed, b.size())) fail(which + ": header is truncated");
        Entry e;
        e.offset = get<std::uint64_t>(b, pos);
        e.size = get<std::uint64_t>(b, pos + 8);
        std::uint64_t id_len = get<std::uint64_t>(b, pos + 16);
        pos += kEntryFixed;
        if (id_len == 0 || id_len > kMaxIdLength)
            fail(which + ": ID length " + std::to_string(id_len) + " (1 to " +
                 std::to_string(kMaxIdLength) + " expected)");
        if (!fits(pos, id_len, b.size())) fail(which + ": ID runs past the end of the bundle");
        e.id.assign(b.substr(pos, id_len));
        pos += id_len;
        if (!std::all_of(e.id.begin(), e.id.end(),
                         [](unsigned char c) { return c > 0x20 && c < 0x7f; }))
            fail(which + ": ID is not printable ASCII target text");
        if (!ids.insert(e.id).second) fail(which + ": ID " + e.id + " appears twice");
        out.entries.push_back(std::move(e));
    }
    out.table_end = pos;
    out.span = pos;
    std::vector<const Entry*> code;
    for (const auto& e : out.entries) {
        if (e.offset < out.table_end)
            fail("entry " + e.id + " starts at " + std::to_string(e.offset) +
                 ", inside the entry table (which ends at " + std::to_string(out.table_end) + ")");
        if (!fits(e.offset, e.size, b.size()))
            fail("entry " + e.id + " (offset " + std::to_string(e.offset) + ", size " +
                 std::to_string(e.size) + ") runs past the " + std::to_string(b.size()) +
                 " bytes that follow the bundle's start");
        out.span = std::max(out.span, e.offset + e.size);
        if (e.size > 0) code.push_back(&e);
    }
    std::sort(code.begin(), code.end(),
              [](const Entry* x, const Entry* y) { return x->offset < y->offset; });
    for (std::size_t i = 1; i < code.size(); ++i)
        if (code[i]->offset < code[i - 1]->offset + code[i - 1]->size)
            fail("entries " + code[i - 1]->id + " and " + code[i]->id + " overlap");
    return out;
}

std::string table_bytes(const std::vector<Entry>& entries) {
    std::string s(kBundleMagic);
    put<std::uint64_t>(s, entries.size());
    for (const auto& e : entries) {
        put<std::uint64_t>(s, e.offset);
        put<std::uint64_t>(s, e.size);
        put<std::uint64_t>(s, e.id.size());
        s += e.id;
    }
    return s;
}

std::string rebuild_bundle(std::string_view original, const Bundle& parsed,
                           const std::vector<std::size_t>& keep) {
    std::uint64_t align = kMaxAlign;
    for (const auto& e : parsed.entries)
        if (e.size > 0)
            while (align > 1 && e.offset % align != 0) align /= 2;
    auto up = [align](std::uint64_t v) { return (v + align - 1) / align * align; };
    std::vector<Entry> kept;
    for (auto i : keep) kept.push_back(parsed.entries.at(i));
    std::uint64_t table = table_bytes(kept).size();
    // Code objects in their original order in the bundle, each at the next aligned offset.
    std::vector<std::size_t> order;
    for (std::size_t k = 0; k < kept.size(); ++k)
        if (kept[k].size > 0) order.push_back(k);
    std::sort(order.begin(), order.end(),
              [&](std::size_t x, std::size_t y) { return kept[x].offset < kept[y].offset; });
    std::vector<std::uint64_t> old_offset(kept.size());
    for (std::size_t k = 0; k < kept.size(); ++k) old_offset[k] = kept[k].offset;
    std::uint64_t pos = table, first = up(table);
    for (auto k : order) {
        kept[k].offset = up(pos);
        pos = kept[k].offset + kept[k].size;
    }
    for (auto& e : kept)
        if (e.size == 0) e.offset = first;
    std::string out = table_bytes(kept);
    out.resize(std::max<std::uint64_t>(pos, out.size()), '\0');
    for (std::size_t k = 0; k < kept.size(); ++k)
        if (kept[k].size > 0)
            std::memcpy(out.data() + kept[k].offset, original.data() + old_offset[k], kept[k].size);
    return out;
}

std::uint64_t bundle_hash(std::string_view data) {
    const nettle::Api& lib = nettle::api();
    md5_ctx ctx;
    lib.md5_init(&ctx);
    lib.md5_update(&ctx, data.size(), reinterpret_cast<const std::uint8_t*>(data.data()));
    std::uint8_t digest[16];
    lib.md5_digest(&ctx, sizeof digest, digest);
    std::uint64_t low = 0;
    for (int i = 7; i >= 0; --i) low = (low << 8) | digest[i]; // little-endian, as LLVM reads it
    return low;
}

Compressed decode(std::string_view b, std::uint64_t max_uncompressed) {
    if (b.size() < 8 || !b.starts_with(kCcobMagic)) fail("truncated, or no CCOB magic");
    Compressed c;
    c.version = get<std::uint16_t>(b, 4);
    c.method = get<std::uint16_t>(b, 6);
    if (c.version < 1 || c.version > 3)
        fail("unknown compressed bundle version " + std::to_string(c.version));
    if (c.method > 1) fail("unknown compression method " + std::to_string(c.method));
    c.header = c.version == 1 ? 20 : c.version == 2 ? 24 : 32;
    if (b.size() < c.header) fail("header is truncated");
    std::uint64_t total = 0, uncompressed = 0;
    if (c.version == 1) {
        uncompressed = get<std::uint32_t>(b, 8);
    } else if (c.version == 2) {
        total = get<std::uint32_t>(b, 8);
        uncompressed = get<std::uint32_t>(b, 12);
    } else {
        total = get<std::uint64_t>(b, 8);
        uncompressed = get<std::uint64_t>(b, 16);
    }
    c.hash = get<std::uint64_t>(b, c.header - 8);
    if (c.version >= 2 && (total <= c.header || total > b.size()))
        fail("declares a total size of " + std::to_string(total) + " bytes, but " +
             std::to_string(b.size()) + " remain in the section");
    if (uncompressed > max_uncompressed)
        fail("declares " + std::to_string(uncompressed) +
             " uncompressed bytes, over the limit of " + std::to_string(max_uncompressed));
    std::string_view payload = b.substr(c.header, (c.version >= 2 ? total : b.size()) - c.header);
    std::uint64_t consumed = 0;
    c.data = c.method == 0
                 ? decompress::zlib_exact(payload, uncompressed, consumed, "the zlib stream", "the")
                 : decompress::zstd_exact(payload, uncompressed, consumed, "the zstd frame");
    if (c.version >= 2 && consumed != payload.size())
        fail("the compressed stream ends after " + std::to_string(consumed) +
             " bytes, not at the declared total size (" + std::to_string(payload.size()) +
             " after the header)");
    c.span = c.header + consumed;
    if (bundle_hash(c.data) != c.hash)
        fail("the hash of the uncompressed bundle does not match the one in its header");
    return c;
}

std::string encode(unsigned version, unsigned method, std::string_view bundle, std::uint64_t room) {
    if (version < 1 || version > 3 || method > 1) return {};
    std::uint64_t header = version == 1 ? 20 : version == 2 ? 24 : 32;
    const int levels[2][2] = {{Z_DEFAULT_COMPRESSION, Z_BEST_COMPRESSION},
                              {ZSTD_CLEVEL_DEFAULT, 19}};
    std::uint64_t hash = bundle_hash(bundle);
    for (int level : levels[method]) {
        std::string payload = compress_with(method, bundle, level);
        if (payload.empty()) continue;
        std::uint64_t total = header + payload.size();
        if (total > room) continue;
        if (version <= 2 && (bundle.size() > UINT32_MAX || total > UINT32_MAX)) return {};
        std::string s(kCcobMagic);
        put<std::uint16_t>(s, static_cast<std::uint16_t>(version));
        put<std::uint16_t>(s, static_cast<std::uint16_t>(method));
        if (version == 1) {
            put<std::uint32_t>(s, static_cast<std::uint32_t>(bundle.size()));
        } else if (version == 2) {
            put<std::uint32_t>(s, static_cast<std::uint32_t>(total));
            put<std::uint32_t>(s, static_cast<std::uint32_t>(bundle.size()));
        } else {
            put<std::uint64_t>(s, total);
            put<std::uint64_t>(s, bundle.size());
        }
        put<std::uint64_t>(s, hash);
        return s + payload;
    }
    return {};
}

} // namespace gantry::gpu_vendors::amd::ccob
