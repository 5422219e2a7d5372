#include "toc_differential.hpp"

#include "toc_dom_reference.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <gtest/gtest.h>
#include <sstream>

namespace toc_differential {

using namespace gantry;
using lazy::Toc;
using lazy::TocFormat;
using nlohmann::json;

namespace {

struct Outcome {
    bool accepted = false;
    Toc toc;
    std::string tar_split_digest;
    Errc code = Errc::internal;
    std::string message;
};

template <class Fn>
Outcome outcome(Fn&& fn) {
    Outcome o;
    try {
        fn(o);
        o.accepted = true;
    } catch (const Error& e) {
        o.code = e.code();
        o.message = e.message();
    }
    return o;
}

// the message without what only the DOM reader could say: nlohmann's exception text, a whole
// array or object dumped
std::string comparable(std::string m) {
    if (auto at = m.find("has a field of the wrong type ("); at != std::string::npos)
        m.resize(at + 30);
    if (auto at = m.find(" that is not a whole number up to "); at != std::string::npos) {
        auto colon = m.find(": ", at);
        if (colon != std::string::npos && colon + 2 < m.size() &&
            (m[colon + 2] == '[' || m[colon + 2] == '{'))
            m.resize(colon + 3);
    }
    return m;
}

std::string quoted(const std::string& s) {
    return json(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string node_text(const lazy::Node& n) {
    std::ostringstream s;
    s << "mode " << std::oct << n.mode << std::dec << " uid " << n.uid << " gid " << n.gid
      << " size " << n.size << " mtime " << n.mtime << " dev " << n.dev_major << ":" << n.dev_minor
      << " nlink " << n.nlink << " link '" << n.link << "' opaque " << n.opaque << " declared "
      << n.declared << " xattrs";
    for (auto& [k, v] : n.xattrs) s << " " << quoted(k) << "=" << quoted(v);
    s << " chunks";
    for (auto& c : n.chunks)
        s << " [" << static_cast<int>(c.codec) << " " << c.offset << "-" << c.end << " inner "
          << c.inner_offset << " file " << c.file_offset << "+" << c.size << " " << c.digest << "]";
    s << " children";
    for (auto& [k, v] : n.children) s << " " << quoted(k) << "=" << v;
    s << " whiteouts";
    for (auto& w : n.whiteouts) s << " " << quoted(w);
    return s.str();
}

} // namespace

namespace {

bool same(const lazy::Chunk& a, const lazy::Chunk& b) {
    return a.codec == b.codec && a.offset == b.offset && a.end == b.end &&
           a.inner_offset == b.inner_offset && a.file_offset == b.file_offset && a.size == b.size &&
           a.digest == b.digest;
}

bool same(const lazy::Node& a, const lazy::Node& b) {
    return a.mode == b.mode && a.uid == b.uid && a.gid == b.gid && a.size == b.size &&
           a.mtime == b.mtime && a.dev_major == b.dev_major && a.dev_minor == b.dev_minor &&
           a.nlink == b.nlink && a.link == b.link && a.xattrs == b.xattrs &&
           std::equal(a.chunks.begin(), a.chunks.end(), b.chunks.begin(), b.chunks.end(),
                      [](auto& x, auto& y) { return same(x, y); }) &&
           a.children == b.children && a.whiteouts == b.whiteouts && a.opaque == b.opaque &&
           a.declared == b.declared;
}

} // namespace

std::string differences(const Toc& a, const Toc& b) {
    if (a.toc_offset != b.toc_offset) return "toc_offset";
    if (a.prefetch_landmark != b.prefetch_landmark) return "prefetch_landmark";
    if (a.nodes.size() != b.nodes.size())
        return "nodes: " + std::to_string(a.nodes.size()) + " vs " + std::to_string(b.nodes.size());
    for (std::size_t i = 0; i < a.nodes.size(); ++i) {
        if (same(a.nodes[i], b.nodes[i])) continue;
        return "node " + std::to_string(i) + ": " + node_text(a.nodes[i]) + "\n  vs " +
               node_text(b.nodes[i]);
    }
    return {};
}

void Comparison::compare(std::string_view text, std::uint64_t toc_offset, TocFormat format,
                         const std::string& label) {
    if (take()) compare_taken(text, toc_offset, format, label);
}

void Comparison::compare_taken(std::string_view text, std::uint64_t toc_offset, TocFormat format,
                               const std::string& label) {
    const std::string what = "layer t";
    Outcome now = outcome([&](Outcome& o) {
        o.toc = Toc::parse(text, toc_offset, what, format);
        o.tar_split_digest = o.toc.tar_split_digest;
    });
    Outcome before = outcome([&](Outcome& o) {
        o.toc = toc_dom_reference::parse(text, toc_offset, what, format);
        o.tar_split_digest = toc_dom_reference::tar_split_digest(text);
    });
    std::string why;
    if (now.accepted != before.accepted) {
        why = now.accepted ? "accepted, the DOM reader refused it: " + before.message
                           : "refused, the DOM reader accepted it: " + now.message;
    } else if (now.accepted) {
        why = differences(now.toc, before.toc);
        if (why.empty() && now.tar_split_digest != before.tar_split_digest)
            why = "tarSplitDigest " + now.tar_split_digest + " vs " + before.tar_split_digest;
    } else if (now.code != Errc::invalid || before.code != Errc::invalid) {
        why = "refused, but not as invalid: " + now.message + " / " + before.message;
    } else if (comparable(now.message) != comparable(before.message)) {
        why = "refused for another reason:\n  " + now.message + "\n  vs " + before.message;
    }
    if (why.empty()) {
        ++(now.accepted ? accepted : refused);
        return;
    }
    if (++failures <= 20)
        ADD_FAILURE() << label << " (" << (format == TocFormat::estargz ? "eStargz" : "zstd")
                      << "): " << why << "\n  input: "
                      << json(std::string(text.substr(0, 300)))
                             .dump(-1, ' ', false, json::error_handler_t::replace);
}

void Comparison::print(const std::string& what) const {
    std::printf("%s: %zu TOCs accepted alike, %zu refused alike, %zu differ\n", what.c_str(),
                accepted, refused, failures);
}

namespace {

std::string digest(char c) {
    return "sha256:" + std::string(64, c);
}

json file(const std::string& name, std::uint64_t size, std::uint64_t offset, char d, bool zstd) {
    json r = {{"name", name},
              {"type", "reg"},
              {"size", size},
              {"mode", 0644},
              {"uid", 1000},
              {"gid", 1000},
              {"modtime", "2024-01-02T03:04:05Z"}};
    if (size == 0) return r;
    r["offset"] = offset;
    if (zstd) {
        r["digest"] = digest(d);
        r["endOffset"] = offset + 50;
    } else {
        r["chunkDigest"] = digest(d);
    }
    return r;
}

} // namespace

json fixture(TocFormat format) {
    const bool zstd = format == TocFormat::zstd_chunked;
    json e = json::array();
    e.push_back({{"name", "./"},
                 {"type", "dir"},
                 {"mode", 0755},
                 {"modtime", "2024-01-02T03:04:05.5+02:00"}});
    e.push_back({{"name", "etc"}, {"type", "dir"}, {"mode", 0755}, {"userName", "root"}});
    json passwd = file("etc/passwd", 100, 100, 'a', zstd);
    passwd["xattrs"] = {{"user.a", "aGk="}, {"security.x", "AQID"}};
    e.push_back(passwd);
    json big = file("big", 300, 200, 'b', zstd);
    big.erase("digest");
    big["chunkSize"] = 100;
    big["chunkDigest"] = digest('b');
    if (zstd) big["endOffset"] = 450;
    e.push_back(big);
    e.push_back({{"name", "big"},
                 {"type", "chunk"},
                 {"offset", 300},
                 {"chunkOffset", 100},
                 {"chunkSize", 100},
                 {"chunkDigest", digest('c')}});
    e.push_back({{"name", "big"},
                 {"type", "chunk"},
                 {"offset", 400},
                 {"chunkOffset", 200},
                 {"chunkDigest", digest('d')}});
    e.push_back({{"name", "etc/link"}, {"type", "symlink"}, {"linkName", "passwd"}});
    e.push_back({{"name", "etc/hard"}, {"type", "hardlink"}, {"linkName", "etc/passwd"}});
    e.push_back({{"name", "dev/null"}, {"type", "char"}, {"devMajor", 1}, {"devMinor", 3}});
    e.push_back({{"name", "dev/sda"}, {"type", "block"}, {"devMajor", 8}, {"devMinor", 0}});
    e.push_back({{"name", "run/fifo"}, {"type", "fifo"}, {"mode", 0600}});
    e.push_back(file("empty", 0, 0, 'x', zstd));
    json deep = file("a/b/c/deep", 10, 500, 'e', zstd);
    if (zstd) deep["chunkDigest"] = digest('e');
    e.push_back(deep);
    e.push_back({{"name", "a/b"}, {"type", "dir"}, {"mode", 0700}});
    e.push_back({{"name", "etc/.wh.shadow"}, {"type", "reg"}, {"size", 0}});
    e.push_back({{"name", "opt/.wh..wh..opq"}, {"type", "reg"}, {"size", 0}});
    e.push_back(file(".prefetch.landmark", 1, 600, 'f', zstd));
    e.push_back(file(".no.prefetch.landmark", 1, 700, '0', zstd));
    e.push_back({{"name", "stargz.index.json"}, {"type", "reg"}, {"size", 0}});
    if (zstd) {
        json zeros = file("zeros.bin", 200, 900, '1', zstd);
        zeros.erase("digest");
        zeros["chunkSize"] = 100;
        zeros["chunkDigest"] = digest('1');
        e.push_back(zeros);
        e.push_back({{"name", "zeros.bin"},
                     {"type", "chunk"},
                     {"chunkType", "zeros"},
                     {"chunkOffset", 100},
                     {"chunkSize", 100},
                     {"chunkDigest", digest('2')}});
    }
    json tail = file("tail", 20, 1000, '9', zstd);
    tail["modtime"] = "2023-12-31T23:59:59-05:30";
    tail["innerOffset"] = 0;
    e.push_back(tail);
    json doc = {{"version", 1}, {"entries", e}};
    if (zstd) doc["tarSplitDigest"] = digest('7');
    return doc;
}

json big_fixture(TocFormat format, std::size_t entries) {
    const bool zstd = format == TocFormat::zstd_chunked;
    json e = json::array();
    std::uint64_t offset = 100;
    for (std::size_t i = 0; e.size() < entries; ++i) {
        std::string dir = "d" + std::to_string(i % 37) + "/e" + std::to_string(i % 11);
        if (i % 11 == 0) e.push_back({{"name", dir + "/x" + std::to_string(i)}, {"type", "dir"}});
        std::string name = dir + "/f" + std::to_string(i);
        std::uint64_t size = (i % 7) * 50 + 1, chunks = i % 50 == 0 ? 3 : 1;
        if (chunks > 1) size = 300;
        json f = file(name, size, offset, 'a' + static_cast<char>(i % 6), zstd);
        if (chunks > 1) {
            f.erase("digest");
            f["chunkSize"] = 100;
            f["chunkDigest"] = digest('c');
            if (zstd) f["endOffset"] = offset + 250;
        }
        e.push_back(f);
        for (std::uint64_t c = 1; c < chunks; ++c)
            e.push_back({{"name", name},
                         {"type", "chunk"},
                         {"offset", offset + 100 * c},
                         {"chunkOffset", 100 * c},
                         {"chunkSize", 100},
                         {"chunkDigest", digest('d')}});
        offset += 100 * chunks;
    }
    return {{"version", 1}, {"entries", e}};
}

} // namespace toc_differential
