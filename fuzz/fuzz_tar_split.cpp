// Fuzzes the tar-split reader (lazy/tar_split): the JSON lines of a current-generation
// zstd:chunked layer, as its verified TOC's tarSplitDigest vouches for them (or as a lying writer
// made them). What parses must name files by relative paths without "..", count its positions
// from 0, print back (tar_split::line) into lines that parse the same, check against a TOC that
// has none of its files only when none has content, and reassemble into exactly its segments'
// bytes plus its files' sizes.
#include "fuzz_support.hpp"
#include "lazy/tar_split.hpp"

using namespace gantry;

GANTRY_FUZZ_TARGET(tar_split) {
    std::string_view in = fuzz::bytes(data, size);
    std::vector<lazy::tar_split::Entry> entries;
    if (!fuzz::expect_error([&] { entries = lazy::tar_split::parse(in, "layer fuzz"); })) return 0;
    std::string again;
    std::uint64_t want = 0;
    bool content = false;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const auto& e = entries[i];
        if (e.file) {
            FUZZ_CHECK(!e.name.empty() && e.name[0] != '/');
            want += e.size;
            content = content || e.size > 0;
        } else {
            want += e.payload.size();
        }
        again += lazy::tar_split::line(e, i);
    }
    auto back = lazy::tar_split::parse(again, "layer fuzz");
    FUZZ_CHECK(back.size() == entries.size());
    for (std::size_t i = 0; i < back.size(); ++i)
        FUZZ_CHECK(back[i].file == entries[i].file && back[i].name == entries[i].name &&
                   back[i].size == entries[i].size && back[i].payload == entries[i].payload);
    lazy::Toc empty;
    empty.nodes.emplace_back();
    empty.nodes[0].mode = 040755;
    bool refused =
        !fuzz::expect_error([&] { lazy::tar_split::check(entries, empty, "layer fuzz"); });
    FUZZ_CHECK(refused == content);
    if (want > (64u << 20)) return 0; // the files' bytes below are made up: keep them small
    std::uint64_t got = 0;
    lazy::tar_split::assemble(
        entries, [](const std::string&, std::uint64_t n) { return std::string(n, 'x'); },
        [&](std::string_view s) { got += s.size(); }, "layer fuzz");
    FUZZ_CHECK(got == want);
    return 0;
}
