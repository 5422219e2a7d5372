// Fuzzes the eStargz table-of-contents reader (lazy/toc): input starting with '{' is a TOC's
// JSON (as a registry's blob holds it once its digest matched, or as a lying TOC would), else
// a whole blob: its footer, the gzip tar member holding stargz.index.json, then the JSON. What
// parses must be a tree a FUSE server can serve: names without '/', NUL or "..", directories
// only as parents, every regular file's chunks contiguous, covering it, inside the blob before
// the TOC, each with a sha256 digest, chunks at one offset naming one digest.
#include "fuzz_support.hpp"
#include "lazy/toc.hpp"

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
            FUZZ_CHECK(c.offset > 0 && c.offset < c.end && c.end <= t.toc_offset);
            FUZZ_CHECK(c.digest.size() == 71 && c.digest.starts_with("sha256:"));
            if (auto [it, fresh] = at.try_emplace({c.offset, c.inner_offset}, &c.digest); !fresh)
                FUZZ_CHECK(*it->second == c.digest);
            covered += c.size;
        }
        if (!n.chunks.empty()) FUZZ_CHECK(covered == n.size);
    }
}

} // namespace

GANTRY_FUZZ_TARGET(estargz_toc) {
    std::string_view in = fuzz::bytes(data, size);
    if (!in.empty() && in[0] == '{') {
        fuzz::expect_error([&] { check_tree(lazy::Toc::parse(in, 1u << 30, "layer fuzz")); });
        return 0;
    }
    lazy::Footer f;
    if (!lazy::parse_footer(in, f)) return 0;
    FUZZ_CHECK(f.size == lazy::kFooterSize || f.size == lazy::kLegacyFooterSize);
    if (f.toc_offset >= in.size() - f.size) return 0;
    std::string_view member = in.substr(f.toc_offset, in.size() - f.size - f.toc_offset);
    fuzz::expect_error([&] {
        std::string json = lazy::Toc::unpack_toc(member, "layer fuzz");
        FUZZ_CHECK(json.size() <= lazy::kMaxTocBytes);
        check_tree(lazy::Toc::parse(json, f.toc_offset, "layer fuzz"));
    });
    return 0;
}
