// What test_toc_differential compares: one TOC's JSON read by lazy::Toc::parse and by the DOM
// reader it replaced (toc_dom_reference.hpp), the fixtures, and the hostile variants made of them.
#pragma once

#include "lazy/toc.hpp"

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace toc_differential {

inline constexpr std::uint64_t kFixtureTocOffset = 100000;
inline constexpr std::uint64_t kBigTocOffset = 1000000; // past big_fixture(5000)'s chunks

// Compares the two readers on each TOC given: an ADD_FAILURE naming LABEL and what differs
// (the first 20 only), and the tally of TOCs both accepted and both refused.
struct Comparison {
    std::size_t accepted = 0, refused = 0, failures = 0;
    // Compare every EVERY-th TOC given, from the OFFSET-th: under the sanitizers (build-san's
    // -O0 + ASan binary, where make test runs the unit suite) the variants are sampled with an
    // offset that turns with the day, so successive runs cover them all
    // (test_toc_differential.cpp); the release build (`make unit`) compares them all.
    std::size_t every = 1, offset = 0;
    std::size_t given = 0;
    // Counts one TOC given and says whether it is compared: a generator asks before it builds
    // the TOC (a copy and a dump of the fixture), which was ~40% of the field variants' time
    // under the sanitizers when the TOCs not compared were built all the same.
    bool take() { return given++ % every == offset; }
    // Compares TEXT if take() says so.
    void compare(std::string_view json, std::uint64_t toc_offset, gantry::lazy::TocFormat format,
                 const std::string& label);
    // Compares TEXT, which the caller's take() chose.
    void compare_taken(std::string_view json, std::uint64_t toc_offset,
                       gantry::lazy::TocFormat format, const std::string& label);
    void print(const std::string& what) const; // the tally, on stdout
};

// "" when A and B are the same tree, else the first difference.
std::string differences(const gantry::lazy::Toc& a, const gantry::lazy::Toc& b);

// A valid TOC with every kind of entry the format has (root, directories declared after their
// children, regular files of one and of several chunks, empty files, links, devices, fifos,
// whiteouts, an opaque directory, landmarks, xattrs, modtimes with fractions and offsets).
nlohmann::json fixture(gantry::lazy::TocFormat format);
// A valid TOC of about ENTRIES entries in nested directories, files of one or more chunks.
nlohmann::json big_fixture(gantry::lazy::TocFormat format, std::size_t entries);

// Each field of each fixture entry removed or set to values of every JSON type, hostile names,
// digests and numbers.
void field_variants(Comparison& c, gantry::lazy::TocFormat format);
// Entries removed, repeated, swapped, moved; the top level's version, entries and
// tarSplitDigest changed.
void structure_variants(Comparison& c, gantry::lazy::TocFormat format);
// Keys given twice, deep nesting, numbers past uint64 and past a double, bytes that are not
// UTF-8, escapes, a BOM, comments, trailing bytes, truncations, changed bytes.
void text_variants(Comparison& c, gantry::lazy::TocFormat format);

} // namespace toc_differential
