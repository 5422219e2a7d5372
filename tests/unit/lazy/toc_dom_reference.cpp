// The table of contents' DOM reader as gantry had it before the streaming one
// (src/lazy/toc_parser.cpp): nlohmann::json::parse, then the checks on the tree of values. Kept
// only as the reference test_toc_differential compares the streaming reader with; the code is
// the old src/lazy/toc.cpp's, unchanged but for its namespace, this reader's own
// tarSplitDigest (the old zstd_chunked::tar_split_digest, a second DOM parse) and the rules
// issue 57 changed in both readers (a component over 255 bytes named as such, zstd:chunked's
// landmarks kept as files, two chunks at one offset with different digests refused).
#include "toc_dom_reference.hpp"

#include "util/error.hpp"
#include "util/nettle.hpp"

#include <cstring>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

namespace toc_dom_reference {

using namespace gantry;
using namespace gantry::lazy;
using nlohmann::json;

namespace {

// the format of the TOC being read, for the messages (one parse at a time per thread)
thread_local TocFormat reading = TocFormat::estargz;

[[noreturn]] void refuse(const std::string& what, const std::string& why) {
    const bool zstd = reading == TocFormat::zstd_chunked;
    throw Error(
        Errc::invalid,
        what +
            (zstd ? ": the zstd:chunked table of contents " : ": the eStargz table of contents ") +
            why,
        std::string("the image was damaged or altered; pull it without --lazy, or push it "
                    "again with gantry push --compression ") +
            (zstd ? "zstd:chunked" : "estargz"));
}

// NAME as components; Error for absolute names, "..", NUL, empty components.
std::vector<std::string> split_name(const std::string& name, const std::string& what) {
    if (name.empty() || name.size() > 4096) refuse(what, "has an entry with an unusable name");
    if (name.find('\0') != std::string::npos) refuse(what, "has a name holding NUL");
    if (name[0] == '/') refuse(what, "has an absolute name: " + name);
    std::vector<std::string> parts;
    std::size_t i = 0;
    while (i < name.size()) {
        std::size_t j = name.find('/', i);
        if (j == std::string::npos) j = name.size();
        std::string c = name.substr(i, j - i);
        if (c == "..") refuse(what, "has a name with '..': " + name);
        if (c.empty()) refuse(what, "has a name with an empty component: " + name);
        if (c.size() > 255)
            refuse(what,
                   "has a name with a component longer than 255 bytes: " + name.substr(0, 512));
        if (c != ".") parts.push_back(std::move(c));
        i = j + 1;
    }
    return parts;
}

std::int64_t parse_time(const std::string& s) {
    std::tm tm{};
    const char* p = ::strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p) return 0;
    std::int64_t t = ::timegm(&tm);
    if (*p == '.')
        for (++p; *p >= '0' && *p <= '9';) ++p;
    if ((*p == '+' || *p == '-') && std::strlen(p) >= 6) {
        int h = (p[1] - '0') * 10 + (p[2] - '0'), m = (p[4] - '0') * 10 + (p[5] - '0');
        t -= (*p == '+' ? 1 : -1) * (h * 3600 + m * 60);
    }
    return t;
}

class Builder {
  public:
    Builder(Toc& t, const std::string& what) : t_(t), what_(what) {
        t_.nodes.emplace_back();
        t_.nodes[0].mode = S_IFDIR | 0755;
    }

    // The index of the parent directory of PARTS, created (0755, root) where missing.
    std::uint32_t parent_of(const std::vector<std::string>& parts) {
        std::uint32_t dir = 0;
        for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
            auto& kids = t_.nodes[dir].children;
            auto it = kids.find(parts[i]);
            if (it == kids.end()) {
                dir = add(dir, parts[i], S_IFDIR | 0755);
            } else {
                if (!S_ISDIR(t_.nodes[it->second].mode))
                    refuse(what_, "puts an entry below the non-directory " + parts[i]);
                dir = it->second;
            }
        }
        return dir;
    }

    std::uint32_t add(std::uint32_t dir, const std::string& name, mode_t mode) {
        if (t_.nodes.size() >= kMaxEntries) too_many();
        auto idx = static_cast<std::uint32_t>(t_.nodes.size());
        t_.nodes.emplace_back();
        t_.nodes.back().mode = mode;
        t_.nodes[dir].children.emplace(name, idx);
        return idx;
    }

    [[noreturn]] void too_many() {
        refuse(what_, "has more than " + std::to_string(kMaxEntries) + " entries");
    }

    Toc& t_;
    const std::string& what_;
};

// a zstd:chunked chunk's codec: its `chunkType` is "" (a zstd frame) or "zeros" (a hole)
Codec chunk_codec(const json& e, const std::string& what) {
    std::string type = e.value("chunkType", "");
    if (type.empty()) return Codec::zstd;
    if (type == "zeros") return Codec::zeros;
    refuse(what, "has a chunk of unknown chunkType '" + type.substr(0, 64) + "'");
}

// KEY's value as a JSON integer in 0..MAX (FALLBACK when absent); a float, a negative or a larger
// number is refused naming the field: converting such a number to an integer was undefined
// behaviour (fuzz_zstd_chunked_toc: "chunkSize": 1.1e35)
std::uint64_t whole(const json& e, const char* key, std::uint64_t fallback, std::uint64_t max,
                    const std::string& what) {
    auto it = e.find(key);
    if (it == e.end()) return fallback;
    if (it->is_number_unsigned() && it->get<std::uint64_t>() <= max)
        return it->get<std::uint64_t>();
    if (it->is_number_integer() && it->get<std::int64_t>() >= 0 &&
        static_cast<std::uint64_t>(it->get<std::int64_t>()) <= max)
        return static_cast<std::uint64_t>(it->get<std::int64_t>());
    refuse(what, std::string("has a ") + key + " that is not a whole number up to " +
                     std::to_string(max) + ": " + it->dump().substr(0, 64));
}

std::uint64_t u64(const json& e, const char* key, const std::string& what) {
    return whole(e, key, 0, UINT64_MAX, what);
}

std::uint32_t u32(const json& e, const char* key, std::uint32_t fallback, const std::string& what) {
    return static_cast<std::uint32_t>(whole(e, key, fallback, UINT32_MAX, what));
}

} // namespace

Toc parse(std::string_view text, std::uint64_t toc_offset, const std::string& what,
          TocFormat format) {
    reading = format;
    const bool zstd = format == TocFormat::zstd_chunked;
    const Codec codec = zstd ? Codec::zstd : Codec::gzip;
    // zstd:chunked: a regular file's compressed bytes end at its `endOffset` (the tar's padding
    // and the next headers follow in frames of their own)
    std::vector<std::pair<std::uint32_t, std::uint64_t>> end_offsets;
    Toc t;
    t.toc_offset = toc_offset;
    json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) refuse(what, "is not JSON");
    try {
        if (whole(doc, "version", 0, UINT32_MAX, what) != 1) refuse(what, "is not version 1");
        const json& entries = doc.at("entries");
        if (!entries.is_array()) refuse(what, "has no entries array");
        if (entries.size() > kMaxEntries)
            refuse(what, "has more than " + std::to_string(kMaxEntries) + " entries");
        Builder b(t, what);
        // the offsets that start a gzip member, in entry order: a chunk ends where the next
        // larger one starts (or at the TOC), as stargz and containers/storage derive it
        std::vector<std::uint64_t> starts;
        std::uint32_t last_reg = 0;    // the regular file "chunk" entries continue
        std::uint64_t last_offset = 0; // offsets never go back
        // chunks whose end is not known yet (node, chunk): nodes may move as the tree grows
        std::vector<std::pair<std::uint32_t, std::size_t>> open_chunks;
        // the chunks at last_offset by inner offset: digest and node (issue 57: two at one
        // place with different digests are refused, naming the first by its path in the tree)
        std::map<std::uint64_t, std::pair<std::string, std::uint32_t>> at_offset;
        auto close_chunks = [&](std::uint64_t start) {
            for (auto [n, c] : open_chunks) t.nodes[n].chunks[c].end = start;
            open_chunks.clear();
            at_offset.clear();
        };
        auto path = [&](std::uint32_t node) {
            std::map<std::uint32_t, std::pair<std::uint32_t, std::string>> up;
            for (std::uint32_t i = 0; i < t.nodes.size(); ++i)
                for (const auto& [name, kid] : t.nodes[i].children) up.try_emplace(kid, i, name);
            std::string p;
            for (std::uint32_t n = node; n != 0 && up.count(n); n = up[n].first)
                p = up[n].second + (p.empty() ? "" : "/") + p;
            return p;
        };
        auto shared_offset = [&](const Chunk& c, std::uint32_t node, const std::string& name) {
            if (c.codec == Codec::zeros || c.offset == 0) return;
            auto [it, fresh] = at_offset.try_emplace(c.inner_offset, c.digest, node);
            if (fresh || it->second.first == c.digest) return;
            auto shown = [](const std::string& s) { return s.substr(0, 80); };
            refuse(what,
                   "has two chunks at blob offset " + std::to_string(c.offset) +
                       (c.inner_offset ? " (inner offset " + std::to_string(c.inner_offset) + ")"
                                       : "") +
                       " with different digests: " + shown(path(it->second.second)) + " (" +
                       shown(it->second.first) + ") and " + shown(name) + " (" + shown(c.digest) +
                       ")");
        };
        for (const json& e : entries) {
            if (!e.is_object()) refuse(what, "has an entry that is not an object");
            const std::string type = e.at("type").get<std::string>();
            const std::string name = e.at("name").get<std::string>();
            std::uint64_t offset = u64(e, "offset", what);
            if (offset >= toc_offset && offset != 0)
                refuse(what, "entry " + name + " has offset " + std::to_string(offset) +
                                 ", past the table of contents at " + std::to_string(toc_offset));
            if (offset != 0) {
                if (offset < last_offset) refuse(what, "entry " + name + " goes back in the blob");
                if (offset > last_offset) close_chunks(offset);
                last_offset = offset;
            }
            if (type == "chunk") {
                if (last_reg == 0) refuse(what, "has a chunk without its file: " + name);
                Node& f = t.nodes[last_reg];
                if (f.chunks.empty()) refuse(what, "has a chunk of an empty file: " + name);
                Chunk& prev = f.chunks.back();
                Chunk c;
                c.codec = zstd ? chunk_codec(e, what) : codec;
                c.offset = offset;
                // as for a file's first chunk (fuzz_zstd_chunked_toc: a chunk without one)
                if (offset == 0 && c.codec != Codec::zeros)
                    refuse(what, "has no offset for a chunk of " + name);
                c.inner_offset = u64(e, "innerOffset", what);
                c.file_offset = u64(e, "chunkOffset", what);
                c.size = u64(e, "chunkSize", what);
                c.digest = e.value("chunkDigest", "");
                if (c.file_offset != prev.file_offset + prev.size)
                    refuse(what, "has overlapping or missing chunks in " + name);
                if (c.size == 0) c.size = f.size - std::min(f.size, c.file_offset);
                shared_offset(c, last_reg, name);
                f.chunks.push_back(std::move(c));
                open_chunks.emplace_back(last_reg, f.chunks.size() - 1);
                continue;
            }
            // the previous regular file must be whole
            if (last_reg != 0) {
                const Node& f = t.nodes[last_reg];
                if (!f.chunks.empty() &&
                    f.chunks.back().file_offset + f.chunks.back().size != f.size)
                    refuse(what, "has chunks that do not cover their file");
            }
            last_reg = 0;
            auto parts = split_name(name, what);
            if (parts.empty()) { // the root itself
                if (type != "dir") refuse(what, "has a root that is not a directory");
                Node& r = t.nodes[0];
                if (r.declared) refuse(what, "has a duplicate entry: " + name);
                r.declared = true;
                r.mode = S_IFDIR | (u32(e, "mode", 0755u, what) & 07777);
                r.uid = u32(e, "uid", 0u, what);
                r.gid = u32(e, "gid", 0u, what);
                r.mtime = parse_time(e.value("modtime", ""));
                continue;
            }
            std::uint32_t dir = b.parent_of(parts);
            const std::string& base = parts.back();
            // hidden: the TOC and the landmarks at the root
            if (!zstd && dir == 0 &&
                (base == kTocName || base == ".prefetch.landmark" ||
                 base == ".no.prefetch.landmark")) {
                if (base == ".prefetch.landmark") t.prefetch_landmark = offset;
                continue;
            }
            if (base.starts_with(".wh.")) {
                std::string hidden = base.substr(4);
                if (hidden == ".wh..opq") {
                    t.nodes[dir].opaque = true;
                } else {
                    if (hidden.empty() || hidden == "." || hidden == "..")
                        refuse(what, "has an unusable whiteout: " + name);
                    t.nodes[dir].whiteouts.insert(hidden);
                }
                continue;
            }
            mode_t ft = type == "dir"        ? S_IFDIR
                        : type == "reg"      ? S_IFREG
                        : type == "symlink"  ? S_IFLNK
                        : type == "char"     ? S_IFCHR
                        : type == "block"    ? S_IFBLK
                        : type == "fifo"     ? S_IFIFO
                        : type == "hardlink" ? S_IFREG
                                             : 0;
            if (ft == 0) refuse(what, "has an entry of unknown type '" + type + "': " + name);
            auto& kids = t.nodes[dir].children;
            auto existing = kids.find(base);
            if (type == "hardlink") {
                if (existing != kids.end()) refuse(what, "has a duplicate entry: " + name);
                auto target = split_name(e.at("linkName").get<std::string>(), what);
                std::uint32_t at = 0;
                for (auto& c : target) {
                    auto it = t.nodes[at].children.find(c);
                    if (it == t.nodes[at].children.end())
                        refuse(what, "has a hard link to a file not before it: " + name);
                    at = it->second;
                }
                if (at == 0 || S_ISDIR(t.nodes[at].mode))
                    refuse(what, "has a hard link to a directory: " + name);
                kids.emplace(base, at);
                t.nodes[at].nlink++;
                continue;
            }
            std::uint32_t idx;
            if (existing != kids.end()) {
                Node& old = t.nodes[existing->second];
                // a directory made as a parent earlier may be declared once
                if (old.declared || !S_ISDIR(old.mode) || ft != S_IFDIR)
                    refuse(what, "has a duplicate entry: " + name);
                idx = existing->second;
            } else {
                idx = b.add(dir, base, ft);
            }
            Node& n = t.nodes[idx];
            n.declared = true;
            n.mode = ft | (u32(e, "mode", 0u, what) & 07777);
            n.uid = u32(e, "uid", 0u, what);
            n.gid = u32(e, "gid", 0u, what);
            n.mtime = parse_time(e.value("modtime", ""));
            n.dev_major = u32(e, "devMajor", 0u, what);
            n.dev_minor = u32(e, "devMinor", 0u, what);
            if (ft == S_IFLNK) {
                n.link = e.value("linkName", "");
                if (n.link.empty() || n.link.size() > 4096 ||
                    n.link.find('\0') != std::string::npos)
                    refuse(what, "has an unusable symlink target: " + name);
            }
            if (auto x = e.find("xattrs"); x != e.end() && !x->is_null()) {
                std::size_t bytes = 0;
                for (auto& [k, v] : x->items()) {
                    auto val = nettle::base64_decode(v.get<std::string>());
                    if (!val || k.empty() || k.find('\0') != std::string::npos)
                        refuse(what, "has an unusable xattr on " + name);
                    bytes += k.size() + val->size();
                    if (bytes > (64u << 10)) refuse(what, "has over 64 KiB of xattrs on " + name);
                    n.xattrs.emplace_back(k, std::move(*val));
                }
            }
            if (ft == S_IFREG) {
                n.size = u64(e, "size", what);
                last_reg = idx;
                if (n.size > 0) {
                    if (offset == 0) refuse(what, "has no offset for the data of " + name);
                    Chunk c;
                    c.codec = zstd ? chunk_codec(e, what) : codec;
                    c.offset = offset;
                    c.inner_offset = u64(e, "innerOffset", what);
                    c.file_offset = u64(e, "chunkOffset", what);
                    c.size = u64(e, "chunkSize", what);
                    c.digest = e.value("chunkDigest", "");
                    if (c.file_offset != 0) refuse(what, "starts " + name + " past its start");
                    if (c.size == 0) c.size = n.size;
                    // zstd:chunked names a file's digest only, when it is one chunk
                    if (zstd && c.digest.empty() && c.size == n.size)
                        c.digest = e.value("digest", "");
                    if (zstd) {
                        std::uint64_t end = u64(e, "endOffset", what);
                        if (end <= offset || end > toc_offset)
                            refuse(what, "entry " + name + " has an unusable endOffset " +
                                             std::to_string(end));
                        end_offsets.emplace_back(idx, end);
                    }
                    shared_offset(c, idx, name);
                    n.chunks.push_back(std::move(c));
                    open_chunks.emplace_back(idx, 0);
                }
            }
        }
        if (last_reg != 0) {
            const Node& f = t.nodes[last_reg];
            if (!f.chunks.empty() && f.chunks.back().file_offset + f.chunks.back().size != f.size)
                refuse(what, "has chunks that do not cover their file");
        }
        close_chunks(toc_offset);
        for (auto [n, end] : end_offsets) {
            Chunk& last = t.nodes[n].chunks.back();
            if (end < last.offset || end > last.end)
                refuse(what, "has an endOffset outside the last chunk at offset " +
                                 std::to_string(last.offset));
            if (last.codec != Codec::zeros) last.end = end;
        }
        // every chunk: sized, bounded, with a sha256 digest
        for (auto& n : t.nodes)
            for (auto& c : n.chunks) {
                if (c.codec == Codec::zeros) c.end = c.offset; // nothing to fetch
                if (c.size == 0 || c.size > kMaxChunkSize ||
                    (c.end <= c.offset && c.codec != Codec::zeros) ||
                    c.end - c.offset > kMaxChunkSize + (1u << 20) || c.inner_offset > kMaxChunkSize)
                    refuse(what,
                           "has a chunk of an unusable size at offset " + std::to_string(c.offset));
                if (c.digest.size() != 71 || !c.digest.starts_with("sha256:") ||
                    c.digest.find_first_not_of("0123456789abcdef", 7) != std::string::npos)
                    refuse(what, "has a chunk without a sha256 digest at offset " +
                                     std::to_string(c.offset));
            }
    } catch (const json::exception& e) {
        refuse(what, std::string("has a field of the wrong type (") + e.what() + ")");
    }
    return t;
}

std::string tar_split_digest(std::string_view toc_json) {
    auto doc = nlohmann::json::parse(toc_json, nullptr, false);
    if (!doc.is_object()) return {};
    auto it = doc.find("tarSplitDigest");
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
}

} // namespace toc_dom_reference
