// Fuzzes the zstd:chunked table-of-contents reader (lazy/zstd_chunked_toc, lazy/toc in its
// zstd:chunked form): input starting with '{' is a TOC's JSON (as a verified blob holds it, or as
// a lying TOC would), else a whole blob: its footer (either generation), the skippable frame it
// names (its checksum taken from the bytes, as a manifest that tells the truth about a hostile
// blob would), decompressed and parsed. What parses must be a tree a FUSE server can serve: names
// without '/', NUL or "..", children only under directories, every regular file's chunks
// contiguous and covering it, each inside the blob before the TOC's frame (a "zeros" chunk
// fetching nothing), each with a sha256 digest, chunks at one offset naming one digest.
#include "fuzz_support.hpp"
#include "lazy/zstd_chunked_toc.hpp"
#include "util/hash.hpp"

#include <map>
#include <sys/stat.h>

using namespace gantry;

namespace {

void check_tree(const lazy::Toc& t) {
    // chunks at one blob offset and inner offset name one digest (issue 57: a cache hit served
    // one entry's bytes as another's)
    std::map<std::pair<std::uint64_t, std::uint64_t>, const std::string*> at;
    FUZZ_CHECK(!t.nodes.empty() && S_ISDIR(t.nodes[0].mode));
    FUZZ_CHECK(t.nodes.size() <= lazy::kMaxEntries + 1);
    for (const auto& n : t.nodes) {
        for (const auto& [name, idx] : n.children) {
            FUZZ_CHECK(S_ISDIR(n.mode));
            FUZZ_CHECK(!name.empty() && name != "." && name != "..");
            FUZZ_CHECK(name.find('/') == std::string::npos);
            FUZZ_CHECK(name.find('\0') == std::string::npos);
            FUZZ_CHECK(idx > 0 && idx < t.nodes.size());
        }
        std::uint64_t covered = 0;
        for (const auto& c : n.chunks) {
            FUZZ_CHECK(S_ISREG(n.mode));
            FUZZ_CHECK(c.file_offset == covered && c.size > 0);
            if (c.codec == lazy::Codec::zeros)
                FUZZ_CHECK(c.end == c.offset);
            else
                FUZZ_CHECK(c.codec == lazy::Codec::zstd && c.offset > 0 && c.offset < c.end &&
                           c.end <= t.toc_offset);
            FUZZ_CHECK(c.digest.size() == 71 && c.digest.starts_with("sha256:"));
            if (c.codec != lazy::Codec::zeros)
                if (auto [it, fresh] = at.try_emplace({c.offset, c.inner_offset}, &c.digest);
                    !fresh)
                    FUZZ_CHECK(*it->second == c.digest);
            covered += c.size;
        }
        if (!n.chunks.empty()) FUZZ_CHECK(covered == n.size);
    }
}

} // namespace

GANTRY_FUZZ_TARGET(zstd_chunked_toc) {
    std::string_view in = fuzz::bytes(data, size);
    if (!in.empty() && in[0] == '{') {
        fuzz::expect_error([&] {
            check_tree(lazy::Toc::parse(in, 1u << 30, "layer fuzz", lazy::TocFormat::zstd_chunked));
        });
        return 0;
    }
    lazy::zstd_chunked::Footer f;
    if (!lazy::zstd_chunked::parse_footer(in, f)) return 0;
    FUZZ_CHECK(f.size == 48 || f.size == 64 || f.size == 72);
    lazy::zstd_chunked::Layout l;
    l.generation = f.generation;
    l.toc = f.toc;
    if (f.toc.offset <= in.size() && f.toc.compressed <= in.size() - f.toc.offset)
        l.toc_checksum = "sha256:" + Sha256::hex_of(in.substr(f.toc.offset, f.toc.compressed));
    else
        l.toc_checksum = "sha256:" + std::string(64, '0');
    auto read = [&](std::uint64_t off, std::size_t len) {
        FUZZ_CHECK(off <= in.size() && len <= in.size() - off);
        return std::string(in.substr(off, len));
    };
    fuzz::expect_error([&] {
        auto t = lazy::zstd_chunked::read_toc(read, in.size(), l, "layer fuzz");
        FUZZ_CHECK(t.toc_offset + 8 == f.toc.offset);
        check_tree(t);
    });
    return 0;
}
