#include "sqsh/format.hpp"

#include "oci/image.hpp"
#include "util/error.hpp"

#include <bit>
#include <cstring>

namespace gantry::sqsh {

namespace {

[[noreturn]] void bad(const std::string& what, const std::string& why) {
    throw Error(Errc::invalid, what + " has a damaged gantry header: " + why,
                "write the file again with `gantry save --format squashfs`");
}

oci::Digest digest_field(const oci::json& doc, const char* key, const std::string& what) {
    auto it = doc.find(key);
    if (it == doc.end() || !it->is_string()) bad(what, std::string("no \"") + key + "\"");
    auto s = it->get<std::string>();
    if (!oci::Digest::valid(s)) bad(what, std::string("\"") + key + "\" is not a sha256 digest");
    return oci::Digest::parse(s);
}

template <class T>
T le(std::string_view b, std::size_t off) {
    std::uint64_t v = 0;
    for (std::size_t i = sizeof(T); i-- > 0;) v = (v << 8) | static_cast<unsigned char>(b[off + i]);
    return static_cast<T>(v);
}

} // namespace

std::string header_json(const Header& h) {
    oci::json diffs = oci::json::array();
    for (auto& d : h.diff_ids) diffs.push_back(d.str());
    oci::json doc = {{"format", kHeaderFormat},
                     {"manifest", h.manifest.str()},
                     {"config_digest", h.config_digest.str()},
                     {"diff_ids", std::move(diffs)},
                     {"config", h.config}};
    return doc.dump(-1, ' ', false, oci::json::error_handler_t::strict);
}

Header parse_header(std::string_view value, const std::string& what) {
    if (value.size() > kMaxHeader) bad(what, "it is larger than 4 MiB");
    auto doc = oci::parse_json(value, what + "'s header");
    if (!doc.is_object()) bad(what, "not a JSON object");
    auto fmt = doc.find("format");
    if (fmt == doc.end() || !fmt->is_number_integer() || fmt->get<long long>() != kHeaderFormat)
        bad(what, "unknown format (this gantry reads format 1)");
    Header h;
    h.manifest = digest_field(doc, "manifest", what);
    h.config_digest = digest_field(doc, "config_digest", what);
    auto diffs = doc.find("diff_ids");
    if (diffs == doc.end() || !diffs->is_array()) bad(what, "no \"diff_ids\" list");
    for (auto& d : *diffs) {
        if (!d.is_string() || !oci::Digest::valid(d.get<std::string>()))
            bad(what, "a diff ID is not a sha256 digest");
        h.diff_ids.push_back(oci::Digest::parse(d.get<std::string>()));
    }
    auto cfg = doc.find("config");
    if (cfg == doc.end() || !cfg->is_string()) bad(what, "no \"config\"");
    h.config = cfg->get<std::string>();
    if (oci::Digest::of(h.config) != h.config_digest)
        bad(what, "the config does not match its digest " + h.config_digest.str());
    if (!oci::parse_json(h.config, what + "'s config").is_object())
        bad(what, "the config is not a JSON object");
    return h;
}

std::string compression_name(std::uint16_t id) {
    switch (id) {
    case 1:
        return "gzip";
    case 2:
        return "lzma";
    case 3:
        return "lzo";
    case 4:
        return "xz";
    case 5:
        return "lz4";
    case 6:
        return "zstd";
    default:
        return "unknown";
    }
}

bool looks_like_squashfs(std::string_view head) {
    return head.size() >= 4 && std::memcmp(head.data(), "hsqs", 4) == 0;
}

Superblock check_superblock(std::string_view head, std::uint64_t file_size,
                            const std::string& what) {
    auto fail = [&](const std::string& why) -> void {
        throw Error(Errc::invalid, what + " is not a usable squashfs image: " + why,
                    "check the file (`unsquashfs -s " + what +
                        "`), or write it again with `gantry save --format squashfs`");
    };
    if (head.size() < kSuperblockSize || file_size < kSuperblockSize) fail("it is truncated");
    if (!looks_like_squashfs(head)) fail("no squashfs magic");
    if (le<std::uint16_t>(head, 28) != 4 || le<std::uint16_t>(head, 30) != 0)
        fail("not squashfs version 4.0");
    Superblock s;
    s.inodes = le<std::uint32_t>(head, 4);
    s.block_size = le<std::uint32_t>(head, 12);
    s.fragments = le<std::uint32_t>(head, 16);
    s.compression = le<std::uint16_t>(head, 20);
    auto block_log = le<std::uint16_t>(head, 22);
    s.flags = le<std::uint16_t>(head, 24);
    s.no_ids = le<std::uint16_t>(head, 26);
    s.root_inode = le<std::uint64_t>(head, 32);
    s.bytes_used = le<std::uint64_t>(head, 40);
    s.id_table = le<std::uint64_t>(head, 48);
    s.xattr_table = le<std::uint64_t>(head, 56);
    s.inode_table = le<std::uint64_t>(head, 64);
    s.dir_table = le<std::uint64_t>(head, 72);
    s.fragment_table = le<std::uint64_t>(head, 80);
    s.export_table = le<std::uint64_t>(head, 88);
    if (s.block_size < 4096 || s.block_size > (1u << 20) || !std::has_single_bit(s.block_size) ||
        block_log > 20 || (1u << block_log) != s.block_size) // (a shift past 31 is UB: fuzzed)
        fail("block size " + std::to_string(s.block_size) + " is invalid");
    // what libsquashfuse decodes (Debian's 0.1.105: zlib, xz, lzma, lzo, lz4, zstd)
    if (compression_name(s.compression) == "unknown")
        fail("unknown compressor " + std::to_string(s.compression));
    if (s.bytes_used < kSuperblockSize || s.bytes_used > file_size)
        fail("it claims " + std::to_string(s.bytes_used) + " bytes, the file has " +
             std::to_string(file_size) + " (truncated?)");
    if (s.inode_table < kSuperblockSize || s.dir_table <= s.inode_table ||
        s.dir_table >= s.bytes_used)
        fail("its inode and directory tables lie outside the image");
    for (auto t : {s.id_table, s.xattr_table, s.fragment_table, s.export_table})
        if (t != kNoTable && (t < kSuperblockSize || t >= s.bytes_used))
            fail("a table lies outside the image");
    if (s.id_table == kNoTable || s.no_ids == 0) fail("it has no id table");
    // An 8 KiB metadata block holds at most 512 inodes (16 bytes each) and takes at least
    // 3 bytes (its header and one byte) in the file.
    std::uint64_t span = s.dir_table - s.inode_table;
    if (s.inodes == 0 || s.inodes > (span / 3 + 1) * 512)
        fail(std::to_string(s.inodes) + " inodes cannot fit in an inode table of " +
             std::to_string(span) + " bytes");
    if ((s.root_inode >> 16) >= span || (s.root_inode & 0xffff) >= 8192)
        fail("its root inode lies outside the inode table");
    return s;
}

} // namespace gantry::sqsh
