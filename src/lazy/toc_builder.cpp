#include "lazy/toc_builder.hpp"

#include "lazy/toc_parser.hpp"
#include "util/nettle.hpp"

#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

namespace gantry::lazy {

namespace {

constexpr std::array<const char*, kFieldCount> kFieldNames = {
    "type",      "name",        "offset",    "linkName", "innerOffset", "chunkOffset",
    "chunkSize", "chunkDigest", "chunkType", "mode",     "uid",         "gid",
    "modtime",   "devMajor",    "devMinor",  "size",     "digest",      "endOffset"};

// days since 1970-01-01 of the proleptic Gregorian Y-M-D; linear in D, as timegm normalizes a
// day past the month's end (H. Hinnant's days_from_civil)
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// "YYYY-MM-DDTHH:MM:SS" with every field in strptime's range (seconds up to 59): its timegm,
// without strptime's and timegm's cost (a TOC has one per entry); false for anything else
bool fast_time(const char* s, std::int64_t& t) {
    auto num = [&](int at, int n) {
        int v = 0;
        for (int i = at; i < at + n; ++i) {
            if (s[i] < '0' || s[i] > '9') return -1;
            v = v * 10 + (s[i] - '0');
        }
        return v;
    };
    if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') return false;
    int y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2),
        sec = num(17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
        sec < 0 || sec > 59)
        return false;
    t = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 +
        mi * 60 + sec;
    return true;
}

std::int64_t parse_time(std::string_view text) {
    char buf[64];
    std::string long_text;
    const char* s = buf;
    if (text.size() < sizeof buf) {
        if (!text.empty()) std::memcpy(buf, text.data(), text.size()); // data() may be null
        buf[text.size()] = '\0';
    } else {
        long_text.assign(text);
        s = long_text.c_str();
    }
    std::int64_t t = 0;
    const char* p = nullptr;
    if (std::strlen(s) >= 19 && fast_time(s, t)) {
        p = s + 19;
    } else {
        std::tm tm{};
        p = ::strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!p) return 0;
        t = ::timegm(&tm);
    }
    if (*p == '.')
        for (++p; *p >= '0' && *p <= '9';) ++p;
    if ((*p == '+' || *p == '-') && std::strlen(p) >= 6) {
        int h = (p[1] - '0') * 10 + (p[2] - '0'), m = (p[4] - '0') * 10 + (p[5] - '0');
        t -= (*p == '+' ? 1 : -1) * (h * 3600 + m * 60);
    }
    return t;
}

bool lower_hex(std::string_view s) {
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

} // namespace

std::string path_of(const Toc& t, std::uint32_t node) {
    std::vector<std::pair<std::uint32_t, const std::string*>> up(t.nodes.size(), {0, nullptr});
    for (std::uint32_t i = 0; i < t.nodes.size(); ++i)
        for (const auto& [name, kid] : t.nodes[i].children)
            if (!up[kid].second) up[kid] = {i, &name}; // a hard link's first name
    std::string path;
    for (std::uint32_t n = node, steps = 0; n != 0 && up[n].second && steps < t.nodes.size();
         n = up[n].first, ++steps)
        path = *up[n].second + (path.empty() ? "" : "/") + path;
    return path;
}

const char* TocValue::type_name() const {
    switch (kind) {
    case Kind::null:
        return "null";
    case Kind::boolean:
        return "boolean";
    case Kind::string:
        return "string";
    case Kind::array:
        return "array";
    case Kind::object:
        return "object";
    default:
        return "number";
    }
}

std::string TocValue::dump() const {
    switch (kind) {
    case Kind::null:
        return "null";
    case Kind::boolean:
        return flag ? "true" : "false";
    case Kind::whole:
        return std::to_string(whole);
    case Kind::negative:
        return std::to_string(negative);
    case Kind::real:
        return nlohmann::json(real).dump();
    case Kind::string:
        return nlohmann::json(text).dump();
    case Kind::array:
        return "[...]";
    default:
        return "{...}";
    }
}

TocField toc_field(std::string_view key) {
    static constexpr auto names = [] {
        std::array<std::string_view, kFieldCount> v;
        for (std::size_t i = 0; i < v.size(); ++i) v[i] = kFieldNames[i];
        return v;
    }();
    if (key == "xattrs") return kXattrs;
    for (std::size_t i = 0; i < names.size(); ++i)
        if (key.size() == names[i].size() && key[0] == names[i][0] && key == names[i])
            return static_cast<TocField>(i);
    return kUnknownField;
}

void TocEntry::clear() {
    for (auto& f : fields) f.kind = TocValue::Kind::absent;
    clear_xattrs();
}

void TocEntry::clear_xattrs() {
    xattrs = TocValue::Kind::absent;
    xattr_object.clear();
    xattr_array.clear();
}

TocBuilder::TocBuilder(Toc& t, std::uint64_t toc_offset, const std::string& what, TocFormat format,
                       TocBudget* budget)
    : t_(t), what_(what), format_(format), zstd_(format == TocFormat::zstd_chunked),
      toc_offset_(toc_offset), budget_(budget) {
    t_ = Toc{};
    t_.toc_offset = toc_offset;
    t_.nodes.emplace_back();
    t_.nodes[0].mode = S_IFDIR | 0755;
}

void TocBuilder::charge_entry(std::string_view name) {
    if (!budget_) return;
    charged_ += kEntryBytes + name.size();
    budget_->entry(name.size(), what_);
}

void TocBuilder::charge_chunk() {
    if (!budget_) return;
    charged_ += kChunkBytes;
    budget_->chunk(what_);
}

void TocBuilder::charge_link(std::string_view name) {
    charge_bytes(kLinkBytes + name.size());
}

void TocBuilder::charge_bytes(std::uint64_t n) {
    if (!budget_) return;
    charged_ += n;
    budget_->bytes(n, what_);
}

void TocBuilder::refuse(const std::string& why) const {
    refuse_toc(format_, what_, why);
}

const std::string& TocBuilder::string_at(const TocEntry& e, TocField f) const {
    const TocValue& v = e.fields[f];
    if (v.kind == TocValue::Kind::absent)
        refuse(std::string("has a field of the wrong type (key '") + kFieldNames[f] +
               "' not found)");
    return string_of(v, kFieldNames[f]);
}

const std::string& TocBuilder::string_of(const TocValue& v, const char* key) const {
    if (v.kind != TocValue::Kind::string)
        refuse(std::string("has a field of the wrong type (") + key + " must be string, but is " +
               v.type_name() + ")");
    return v.text;
}

std::string_view TocBuilder::string_or_empty(const TocEntry& e, TocField f) const {
    const TocValue& v = e.fields[f];
    if (v.kind == TocValue::Kind::absent) return {};
    return string_of(v, kFieldNames[f]);
}

// a float, a negative or a larger number is refused naming the field: converting such a number
// to an integer was undefined behaviour (fuzz_zstd_chunked_toc: "chunkSize": 1.1e35)
std::uint64_t TocBuilder::whole(const TocValue& v, const char* key, std::uint64_t fallback,
                                std::uint64_t max) const {
    using K = TocValue::Kind;
    if (v.kind == K::absent) return fallback;
    if (v.kind == K::whole && v.whole <= max) return v.whole;
    if (v.kind == K::negative && v.negative >= 0 && static_cast<std::uint64_t>(v.negative) <= max)
        return static_cast<std::uint64_t>(v.negative);
    refuse(std::string("has a ") + key + " that is not a whole number up to " +
           std::to_string(max) + ": " + v.dump().substr(0, 64));
}

std::uint64_t TocBuilder::u64(const TocEntry& e, TocField f) const {
    return whole(e.fields[f], kFieldNames[f], 0, UINT64_MAX);
}

std::uint32_t TocBuilder::u32(const TocEntry& e, TocField f, std::uint32_t fallback) const {
    return static_cast<std::uint32_t>(whole(e.fields[f], kFieldNames[f], fallback, UINT32_MAX));
}

void TocBuilder::split_name(std::string_view name, std::vector<std::string_view>& parts) const {
    if (name.empty() || name.size() > 4096) refuse("has an entry with an unusable name");
    if (name.find('\0') != std::string_view::npos) refuse("has a name holding NUL");
    if (name[0] == '/') refuse("has an absolute name: " + std::string(name));
    parts.clear();
    std::size_t i = 0;
    while (i < name.size()) {
        std::size_t j = name.find('/', i);
        if (j == std::string_view::npos) j = name.size();
        std::string_view c = name.substr(i, j - i);
        if (c == "..") refuse("has a name with '..': " + std::string(name));
        if (c.empty()) refuse("has a name with an empty component: " + std::string(name));
        if (c.size() > 255)
            refuse("has a name with a component longer than 255 bytes: " +
                   std::string(name.substr(0, 512)));
        if (c != ".") parts.push_back(c);
        i = j + 1;
    }
}

// The index of the parent directory of PARTS, created (0755, root) where missing.
std::uint32_t TocBuilder::parent_of(const std::vector<std::string_view>& parts) {
    std::uint32_t dir = 0;
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
        auto& kids = t_.nodes[dir].children;
        auto it = kids.find(parts[i]);
        if (it == kids.end()) {
            dir = add_node(dir, parts[i], S_IFDIR | 0755);
        } else {
            if (!S_ISDIR(t_.nodes[it->second].mode))
                refuse("puts an entry below the non-directory " + std::string(parts[i]));
            dir = it->second;
        }
    }
    return dir;
}

std::uint32_t TocBuilder::add_node(std::uint32_t dir, std::string_view name, mode_t mode) {
    if (t_.nodes.size() >= kMaxEntries)
        refuse("has more than " + std::to_string(kMaxEntries) + " entries");
    charge_entry(name);
    auto idx = static_cast<std::uint32_t>(t_.nodes.size());
    t_.nodes.emplace_back();
    t_.nodes.back().mode = mode;
    t_.nodes[dir].children.emplace(name, idx);
    return idx;
}

// a zstd:chunked chunk's codec: its `chunkType` is "" (a zstd frame) or "zeros" (a hole)
Codec TocBuilder::chunk_codec(const TocEntry& e) const {
    std::string_view type = string_or_empty(e, kChunkType);
    if (type.empty()) return Codec::zstd;
    if (type == "zeros") return Codec::zeros;
    refuse("has a chunk of unknown chunkType '" + std::string(type.substr(0, 64)) + "'");
}

void TocBuilder::add_xattrs(const TocEntry& e, Node& n, const std::string& name) const {
    std::size_t bytes = 0;
    auto one = [&](const std::string& k, const TocValue& v) {
        auto val = nettle::base64_decode(string_of(v, "xattrs"));
        if (!val || k.empty() || k.find('\0') != std::string::npos)
            refuse("has an unusable xattr on " + name);
        bytes += k.size() + val->size();
        if (bytes > (64u << 10)) refuse("has over 64 KiB of xattrs on " + name);
        n.xattrs.emplace_back(k, std::move(*val));
    };
    switch (e.xattrs) {
    case TocValue::Kind::absent:
    case TocValue::Kind::null:
        return;
    case TocValue::Kind::object:
        for (const auto& [k, v] : e.xattr_object) one(k, v);
        return;
    case TocValue::Kind::array:
        for (std::size_t i = 0; i < e.xattr_array.size(); ++i)
            one(std::to_string(i), e.xattr_array[i]);
        return;
    default:
        one(std::string(), e.xattr_scalar);
        return;
    }
}

void TocBuilder::check_covered() const {
    if (last_reg_ == 0) return;
    const Node& f = t_.nodes[last_reg_];
    if (!f.chunks.empty() && f.chunks.back().file_offset + f.chunks.back().size != f.size)
        refuse("has chunks that do not cover their file");
}

// Two chunks at one blob offset (and inner offset: eStargz packs small files into one gzip member,
// each at its own innerOffset) are the same bytes, so they must name the same digest: a writer
// may point two entries at one copy of equal content, but different digests are a TOC that lies
// about one of them. (Every chunk is still checked against its own digest when served.)
void TocBuilder::check_shared_offset(std::uint32_t node, const std::string& name) {
    const auto index = static_cast<std::uint32_t>(t_.nodes[node].chunks.size() - 1);
    const Chunk& c = t_.nodes[node].chunks[index];
    if (c.codec == Codec::zeros || c.offset == 0) return; // a hole has no bytes in the blob
    auto [it, fresh] = at_offset_.try_emplace(c.inner_offset, node, index);
    const Chunk& first = t_.nodes[it->second.first].chunks[it->second.second];
    if (fresh || first.digest == c.digest) return;
    auto shown = [](const std::string& s) { return s.substr(0, 80); };
    refuse("has two chunks at blob offset " + std::to_string(c.offset) +
           (c.inner_offset ? " (inner offset " + std::to_string(c.inner_offset) + ")" : "") +
           " with different digests: " + shown(path_of(t_, it->second.first)) + " (" +
           shown(first.digest) + ") and " + shown(name) + " (" + shown(c.digest) + ")");
}

Chunk& TocBuilder::add_chunk(const TocEntry& e, std::vector<Chunk>& chunks, std::uint64_t offset) {
    charge_chunk();
    Chunk& c = chunks.emplace_back();
    c.codec = zstd_ ? chunk_codec(e) : Codec::gzip;
    c.offset = offset;
    return c;
}

void TocBuilder::add(const TocEntry& e) {
    const std::string& type = string_at(e, kType);
    const std::string& name = string_at(e, kName);
    std::uint64_t offset = u64(e, kOffset);
    if (offset >= toc_offset_ && offset != 0)
        refuse("entry " + name + " has offset " + std::to_string(offset) +
               ", past the table of contents at " + std::to_string(toc_offset_));
    if (offset != 0) {
        if (offset < last_offset_) refuse("entry " + name + " goes back in the blob");
        if (offset > last_offset_) {
            for (auto [n, c] : open_chunks_) t_.nodes[n].chunks[c].end = offset;
            open_chunks_.clear();
            at_offset_.clear();
        }
        last_offset_ = offset;
    }
    if (type == "chunk") {
        if (last_reg_ == 0) refuse("has a chunk without its file: " + name);
        Node& f = t_.nodes[last_reg_];
        if (f.chunks.empty()) refuse("has a chunk of an empty file: " + name);
        const std::uint64_t prev_end = f.chunks.back().file_offset + f.chunks.back().size;
        Chunk& c = add_chunk(e, f.chunks, offset);
        // as for a file's first chunk (fuzz_zstd_chunked_toc: a chunk without one)
        if (offset == 0 && c.codec != Codec::zeros) refuse("has no offset for a chunk of " + name);
        c.inner_offset = u64(e, kInnerOffset);
        c.file_offset = u64(e, kChunkOffset);
        c.size = u64(e, kChunkSize);
        c.digest = string_or_empty(e, kChunkDigest);
        if (c.file_offset != prev_end) refuse("has overlapping or missing chunks in " + name);
        if (c.size == 0) c.size = f.size - std::min(f.size, c.file_offset);
        check_shared_offset(last_reg_, name);
        open_chunks_.emplace_back(last_reg_, f.chunks.size() - 1);
        return;
    }
    check_covered(); // the previous regular file must be whole
    last_reg_ = 0;
    split_name(name, parts_);
    if (parts_.empty()) { // the root itself
        if (type != "dir") refuse("has a root that is not a directory");
        Node& r = t_.nodes[0];
        if (r.declared) refuse("has a duplicate entry: " + name);
        r.declared = true;
        r.mode = S_IFDIR | (u32(e, kMode, 0755u) & 07777);
        r.uid = u32(e, kUid, 0u);
        r.gid = u32(e, kGid, 0u);
        r.mtime = parse_time(string_or_empty(e, kModtime));
        return;
    }
    std::uint32_t dir = parent_of(parts_);
    std::string_view base = parts_.back();
    // hidden: the TOC and the landmarks at the root of an eStargz layer (in a zstd:chunked
    // layer they are files like any other: a conversion from eStargz by another writer keeps
    // them, its tar-split names them, and a plain pull unpacks them)
    if (!zstd_ && dir == 0 &&
        (base == kTocName || base == ".prefetch.landmark" || base == ".no.prefetch.landmark")) {
        if (base == ".prefetch.landmark") t_.prefetch_landmark = offset;
        return;
    }
    if (base.starts_with(".wh.")) {
        std::string_view hidden = base.substr(4);
        if (hidden == ".wh..opq") {
            t_.nodes[dir].opaque = true;
        } else {
            if (hidden.empty() || hidden == "." || hidden == "..")
                refuse("has an unusable whiteout: " + name);
            charge_link(hidden);
            t_.nodes[dir].whiteouts.emplace(hidden);
        }
        return;
    }
    mode_t ft = type == "dir"        ? S_IFDIR
                : type == "reg"      ? S_IFREG
                : type == "symlink"  ? S_IFLNK
                : type == "char"     ? S_IFCHR
                : type == "block"    ? S_IFBLK
                : type == "fifo"     ? S_IFIFO
                : type == "hardlink" ? S_IFREG
                                     : 0;
    if (ft == 0) refuse("has an entry of unknown type '" + type + "': " + name);
    auto& kids = t_.nodes[dir].children;
    auto existing = kids.find(base);
    if (type == "hardlink") {
        if (existing != kids.end()) refuse("has a duplicate entry: " + name);
        split_name(string_at(e, kLinkName), target_);
        std::uint32_t at = 0;
        for (auto c : target_) {
            auto it = t_.nodes[at].children.find(c);
            if (it == t_.nodes[at].children.end())
                refuse("has a hard link to a file not before it: " + name);
            at = it->second;
        }
        if (at == 0 || S_ISDIR(t_.nodes[at].mode))
            refuse("has a hard link to a directory: " + name);
        charge_link(base);
        kids.emplace(base, at);
        t_.nodes[at].nlink++;
        return;
    }
    std::uint32_t idx;
    if (existing != kids.end()) {
        Node& old = t_.nodes[existing->second];
        // a directory made as a parent earlier may be declared once
        if (old.declared || !S_ISDIR(old.mode) || ft != S_IFDIR)
            refuse("has a duplicate entry: " + name);
        idx = existing->second;
    } else {
        idx = add_node(dir, base, ft);
    }
    Node& n = t_.nodes[idx];
    n.declared = true;
    n.mode = ft | (u32(e, kMode, 0u) & 07777);
    n.uid = u32(e, kUid, 0u);
    n.gid = u32(e, kGid, 0u);
    n.mtime = parse_time(string_or_empty(e, kModtime));
    n.dev_major = u32(e, kDevMajor, 0u);
    n.dev_minor = u32(e, kDevMinor, 0u);
    if (ft == S_IFLNK) {
        n.link = string_or_empty(e, kLinkName);
        if (n.link.empty() || n.link.size() > 4096 || n.link.find('\0') != std::string::npos)
            refuse("has an unusable symlink target: " + name);
        charge_bytes(n.link.size());
    }
    add_xattrs(e, n, name);
    for (const auto& [k, v] : n.xattrs) charge_bytes(kLinkBytes + k.size() + v.size());
    if (ft != S_IFREG) return;
    n.size = u64(e, kSize);
    last_reg_ = idx;
    if (n.size == 0) return;
    if (offset == 0) refuse("has no offset for the data of " + name);
    Chunk& c = add_chunk(e, n.chunks, offset);
    c.inner_offset = u64(e, kInnerOffset);
    c.file_offset = u64(e, kChunkOffset);
    c.size = u64(e, kChunkSize);
    c.digest = string_or_empty(e, kChunkDigest);
    if (c.file_offset != 0) refuse("starts " + name + " past its start");
    if (c.size == 0) c.size = n.size;
    // zstd:chunked names a file's digest only, when it is one chunk
    if (zstd_ && c.digest.empty() && c.size == n.size) c.digest = string_or_empty(e, kDigest);
    if (zstd_) {
        std::uint64_t end = u64(e, kEndOffset);
        if (end <= offset || end > toc_offset_)
            refuse("entry " + name + " has an unusable endOffset " + std::to_string(end));
        end_offsets_.emplace_back(idx, end);
    }
    check_shared_offset(idx, name);
    open_chunks_.emplace_back(idx, 0);
}

void TocBuilder::finish() {
    check_covered();
    for (auto [n, c] : open_chunks_) t_.nodes[n].chunks[c].end = toc_offset_;
    open_chunks_.clear();
    for (auto [n, end] : end_offsets_) {
        Chunk& last = t_.nodes[n].chunks.back();
        if (end < last.offset || end > last.end)
            refuse("has an endOffset outside the last chunk at offset " +
                   std::to_string(last.offset));
        if (last.codec != Codec::zeros) last.end = end;
    }
    // every chunk: sized, bounded, with a sha256 digest
    for (auto& n : t_.nodes)
        for (auto& c : n.chunks) {
            if (c.codec == Codec::zeros) c.end = c.offset; // nothing to fetch
            if (c.size == 0 || c.size > kMaxChunkSize ||
                (c.end <= c.offset && c.codec != Codec::zeros) ||
                c.end - c.offset > kMaxChunkSize + (1u << 20) || c.inner_offset > kMaxChunkSize)
                refuse("has a chunk of an unusable size at offset " + std::to_string(c.offset));
            if (c.digest.size() != 71 || !c.digest.starts_with("sha256:") ||
                !lower_hex(std::string_view(c.digest).substr(7)))
                refuse("has a chunk without a sha256 digest at offset " + std::to_string(c.offset));
        }
}

} // namespace gantry::lazy
