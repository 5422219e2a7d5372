#include "layer/tar_split_recorder.hpp"

#include "layer/extract.hpp"
#include "layer/tar_header.hpp"
#include "layer/tar_split.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cstring>

namespace gantry::layer {

namespace {

constexpr std::size_t kTsrSegmentMax = 1u << 20;  // layer/tar_split.cpp's limit per segment
constexpr std::size_t kTsrMetaMax = 1u << 20;     // a PAX or long-name record read for its name
constexpr std::uint64_t kTsrSizeMax = 1ull << 62; // larger sizes: kept verbatim from there on

// The numeric field's value (octal, or base-256 with the high bit set, as GNU tar and Go write
// sizes over 8 GiB); nullopt when it is neither.
bool tsr_number(const unsigned char* f, std::size_t len, std::uint64_t& out) {
    out = 0;
    if (f[0] & 0x80) {
        if (f[0] & 0x40) return false; // negative
        out = f[0] & 0x3f;
        for (std::size_t i = 1; i < len; ++i) {
            if (out > (kTsrSizeMax >> 8)) return false;
            out = (out << 8) | f[i];
        }
        return true;
    }
    std::size_t i = 0;
    while (i < len && (f[i] == ' ' || f[i] == 0)) ++i;
    for (; i < len && f[i] >= '0' && f[i] <= '7'; ++i) {
        if (out > (kTsrSizeMax >> 3)) return false;
        out = out * 8 + (f[i] - '0');
    }
    return true;
}

std::string tsr_field(const unsigned char* f, std::size_t len) {
    std::size_t n = 0;
    while (n < len && f[n]) ++n;
    return std::string(reinterpret_cast<const char*>(f), n);
}

// Whether tar_split::parse takes PATH as a file's name.
bool tsr_nameable(const std::string& path) {
    try {
        tar_split::components(path, "");
        return true;
    } catch (const Error&) {
        return false;
    }
}

} // namespace

std::size_t TarSplitRecorder::read(void* buf, std::size_t n) {
    std::size_t got = src_.read(buf, n);
    feed(static_cast<const unsigned char*>(buf), got);
    return got;
}

void TarSplitRecorder::feed(const unsigned char* p, std::size_t n) {
    while (n > 0) {
        std::size_t take = n;
        switch (mode_) {
        case Mode::header:
            take = std::min(n, kTarBlock - block_.size());
            block_.append(reinterpret_cast<const char*>(p), take);
            if (block_.size() == kTarBlock) header_block();
            break;
        case Mode::meta:
        case Mode::raw_data:
        case Mode::payload:
        case Mode::padding: {
            std::uint64_t& left = mode_ == Mode::padding ? pad_ : left_;
            take = static_cast<std::size_t>(std::min<std::uint64_t>(n, left));
            if (mode_ != Mode::payload) segment_.append(reinterpret_cast<const char*>(p), take);
            if (mode_ == Mode::meta && meta_.size() < kTsrMetaMax)
                meta_.append(reinterpret_cast<const char*>(p),
                             std::min(take, kTsrMetaMax - meta_.size()));
            left -= take;
            if (left == 0) {
                if (mode_ == Mode::meta) meta_done();
                mode_ = mode_ == Mode::padding || pad_ == 0 ? Mode::header : Mode::padding;
            }
            break;
        }
        case Mode::tail:
            segment_.append(reinterpret_cast<const char*>(p), n);
            break;
        }
        if (segment_.size() >= kTsrSegmentMax) flush_segment();
        p += take;
        n -= take;
    }
}

void TarSplitRecorder::meta_done() {
    if (meta_type_ == 'L') {
        gnu_path_ = meta_.substr(0, meta_.find('\0'));
    } else if (meta_type_ == 'x' || meta_type_ == 'g') {
        // records "LEN key=value\n"
        std::size_t i = 0;
        while (i < meta_.size()) {
            std::size_t sp = meta_.find(' ', i);
            if (sp == std::string::npos) break;
            std::uint64_t len = 0;
            for (std::size_t k = i; k < sp; ++k) {
                if (meta_[k] < '0' || meta_[k] > '9' || len > kTsrMetaMax) {
                    len = 0;
                    break;
                }
                len = len * 10 + static_cast<std::uint64_t>(meta_[k] - '0');
            }
            if (len == 0 || i + len > meta_.size() || meta_[i + len - 1] != '\n') break;
            std::string rec = meta_.substr(sp + 1, i + len - 1 - (sp + 1));
            i += len;
            std::size_t eq = rec.find('=');
            if (eq == std::string::npos) continue;
            std::string key = rec.substr(0, eq), value = rec.substr(eq + 1);
            if (meta_type_ == 'g') {
                if (key == "path" || key == "size" || key.starts_with("GNU.sparse"))
                    raw_rest_ = true;
            } else if (key == "path") {
                pax_path_ = value;
            } else if (key == "size") {
                std::uint64_t v = 0;
                bool ok = !value.empty();
                for (char c : value) {
                    if (c < '0' || c > '9' || v > kTsrSizeMax / 10) ok = false;
                    if (!ok) break;
                    v = v * 10 + static_cast<std::uint64_t>(c - '0');
                }
                if (!ok) raw_rest_ = true;
                pax_size_ = v;
                pax_size_set_ = true;
            } else if (key.starts_with("GNU.sparse")) {
                pax_sparse_ = true;
            }
        }
    }
    if (meta_.size() >= kTsrMetaMax) raw_rest_ = true; // a name too long to know
    meta_.clear();
}

void TarSplitRecorder::header_block() {
    std::string block = std::move(block_);
    block_.clear();
    const auto* b = reinterpret_cast<const unsigned char*>(block.data());
    segment_ += block;
    bool zero = std::all_of(b, b + kTarBlock, [](unsigned char c) { return c == 0; });
    std::uint64_t size = 0;
    if (zero || raw_rest_ || !tar_checksum_ok(b) || !tsr_number(b + 124, 12, size)) {
        mode_ = Mode::tail; // the end of the archive, or what the extractor refuses anyway
        return;
    }
    char type = static_cast<char>(b[156]);
    pad_ = (kTarBlock - size % kTarBlock) % kTarBlock;
    if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
        meta_type_ = type;
        meta_.clear();
        left_ = size;
        mode_ = left_ ? Mode::meta : (pad_ ? Mode::padding : Mode::header);
        return;
    }
    std::string name = tsr_field(b, 100);
    if (std::memcmp(b + 257, "ustar\0", 6) == 0) { // POSIX: the prefix field
        std::string prefix = tsr_field(b + 345, 155);
        if (!prefix.empty()) name = prefix + "/" + name;
    }
    if (!pax_path_.empty())
        name = pax_path_;
    else if (!gnu_path_.empty())
        name = gnu_path_;
    if (pax_size_set_) {
        size = pax_size_;
        pad_ = (kTarBlock - size % kTarBlock) % kTarBlock;
    }
    bool sparse = pax_sparse_;
    pax_path_.clear();
    gnu_path_.clear();
    pax_size_set_ = pax_sparse_ = false;
    start_entry(type, size, name, sparse);
}

void TarSplitRecorder::start_entry(char type, std::uint64_t size, const std::string& name,
                                   bool sparse) {
    bool regular = type == '0' || type == '\0' || type == '7';
    bool directory = type == '5' || (regular && name.ends_with("/"));
    if (directory) regular = false;
    std::vector<std::string> comps;
    if (raw_rest_ || !normalize_entry_path(name, comps)) {
        mode_ = Mode::tail;
        return;
    }
    if (!regular && size > 0) {
        // content the extractor may read or not (a hard link's, a directory's): from here on
        // every byte is kept as it is
        mode_ = Mode::tail;
        return;
    }
    std::string path;
    for (const auto& c : comps) {
        // the extractor follows a link of this layer that a parent directory's name became
        // (within the tree): the entry lands under another name than the one recorded, and a
        // file it replaces there is not the file the record reads back
        if (!path.empty() && links_.count(path))
            unusable("the layer's entry " + name.substr(0, 256) + " is unpacked through the link " +
                     path.substr(0, 256) + " that an entry before it in the same layer made");
        path += (path.empty() ? "" : "/") + c;
    }
    if (type == '1' || type == '2') links_.insert(path);
    std::string leaf = comps.empty() ? "" : comps.back();
    bool referenced = false;
    if (leaf.starts_with(".wh.")) {
        if (leaf != ".wh..wh..opq") {
            std::string parent = path.substr(0, path.size() - leaf.size());
            check_conflicts(parent + leaf.substr(4), false, false);
        }
    } else if (!path.empty()) {
        // a name tar-split's reader would refuse (over 4096 bytes, a component over 255): its
        // content is kept verbatim instead
        referenced = regular && size > 0 && !sparse && tsr_nameable(path);
        check_conflicts(path, directory, referenced);
    }
    left_ = size;
    if (referenced) {
        flush_segment();
        tar_split::Entry e;
        e.file = true;
        e.name = path;
        e.size = size;
        lines_ += tar_split::line(e, position_++);
        file_lines_.push_back(std::move(e));
        ++files_;
        mode_ = Mode::payload;
    } else {
        mode_ = size ? Mode::raw_data : (pad_ ? Mode::padding : Mode::header);
    }
    if (size == 0) pad_ = 0;
}

void TarSplitRecorder::check_conflicts(const std::string& path, bool directory, bool referenced) {
    auto replaced = [&](const std::string& what) {
        unusable("the layer's entry " + path.substr(0, 256) + " replaces " + what +
                 " unpacked before it in the same layer");
    };
    if (referenced_.count(path)) replaced("the file");
    if (!directory) {
        auto it = referenced_.lower_bound(path + "/");
        if (it != referenced_.end() && it->starts_with(path + "/"))
            replaced("a directory holding a file");
    }
    for (std::size_t i = path.find('/'); i != std::string::npos; i = path.find('/', i + 1))
        if (referenced_.count(path.substr(0, i))) replaced("a file (as a directory)");
    if (referenced) referenced_.insert(path);
}

void TarSplitRecorder::flush_segment() {
    std::size_t at = 0;
    while (at < segment_.size()) {
        tar_split::Entry e;
        e.payload = segment_.substr(at, kTsrSegmentMax);
        at += e.payload.size();
        lines_ += tar_split::line(e, position_++);
    }
    segment_.clear();
}

std::string TarSplitRecorder::finish() {
    // a stream cut inside a file's content: its line names more bytes than there were (the
    // extraction fails on such a stream; the record is never used)
    if (mode_ == Mode::payload && left_ > 0) {
        cut_in_file_ = true;
        unusable("the layer's tar ends inside a file's content");
    }
    if (!block_.empty()) segment_ += block_; // a stream that ended inside a header
    block_.clear();
    flush_segment();
    return std::move(lines_);
}

} // namespace gantry::layer
