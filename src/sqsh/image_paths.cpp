// sqsh::Image's reads by path and of metadata: an inode's xattrs (bounded before libsquashfs
// allocates), lookup of a path, a small file's bytes, a directory's names, the header gantry
// writes into the root's xattrs. The inode-level reads are image.cpp's.
#include "sqsh/image.hpp"
#include "sqsh/image_tables.hpp"
#include "sqsh/libsquashfs.hpp"
#include "util/error.hpp"

#include <cstring>

namespace gantry::sqsh {

// The key-value pairs are read here, not by libsquashfs' xattr reader: it allocates a value's
// size (4 bytes from the image) before reading it. Each size is bounded first: a name by
// XATTR_NAME_MAX (255), all values of an inode by kMaxXattrBytes (XATTR_SIZE_MAX is 64 KiB).
std::vector<std::pair<std::string, std::string>> Image::xattrs(const sqfs_inode_generic_t& in) {
    std::vector<std::pair<std::string, std::string>> out;
    const Sqfs& s = sqfs();
    sqfs_u32 index = 0xffffffff;
    if (s.inode_get_xattr_index(&in, &index) || index == 0xffffffff) return out;
    std::string what = "the xattrs of inode " + std::to_string(in.base.inode_number);
    if (!tables().xattrs) damaged(what, SQFS_ERROR_OUT_OF_BOUNDS);
    sqfs_xattr_id_t desc{};
    if (int e = s.xattr_reader_get_desc(tables().xattrs.get(), index, &desc)) damaged(what, e);
    sqfs_meta_reader_t* m = tables().kv.get();
    auto seek = [&](std::uint64_t ref) {
        if (int e = s.meta_reader_seek(m, tables().kv_start + (ref >> 16), ref & 0xffff))
            damaged(what, e);
    };
    auto read = [&](void* p, std::size_t n) {
        if (int e = s.meta_reader_read(m, p, n)) damaged(what, e);
    };
    seek(desc.xattr);
    std::size_t total = 0;
    for (sqfs_u32 i = 0; i < desc.count; ++i) {
        sqfs_u16 head[2] = {}; // type, name size
        read(head, sizeof head);
        const char* prefix = nullptr;
        switch (head[0] & SQFS_XATTR_PREFIX_MASK) {
        case SQFS_XATTR_USER:
            prefix = "user.";
            break;
        case SQFS_XATTR_TRUSTED:
            prefix = "trusted.";
            break;
        case SQFS_XATTR_SECURITY:
            prefix = "security.";
            break;
        default:
            damaged(what, SQFS_ERROR_UNSUPPORTED);
        }
        std::string name(prefix);
        if (head[1] == 0 || name.size() + head[1] > 255) damaged(what, SQFS_ERROR_CORRUPTED);
        name.resize(name.size() + head[1]);
        read(name.data() + name.size() - head[1], head[1]);
        sqfs_u32 size = 0;
        read(&size, sizeof size);
        sqfs_u64 back_block = 0;
        std::size_t back_offset = 0;
        bool out_of_line = head[0] & SQFS_XATTR_FLAG_OOL;
        if (out_of_line) { // the value is elsewhere: an 8-byte reference to it
            sqfs_u64 ref = 0;
            if (size != sizeof ref) damaged(what, SQFS_ERROR_CORRUPTED);
            read(&ref, sizeof ref);
            s.meta_reader_get_position(m, &back_block, &back_offset);
            seek(ref);
            read(&size, sizeof size);
        }
        total += name.size() + size;
        if (total > kMaxXattrBytes || name.find('\0') != std::string::npos)
            damaged(what, SQFS_ERROR_CORRUPTED);
        std::string value(size, '\0');
        read(value.data(), size);
        if (out_of_line)
            if (int e = s.meta_reader_seek(m, back_block, back_offset)) damaged(what, e);
        out.emplace_back(std::move(name), std::move(value));
    }
    return out;
}

Inode Image::lookup(const std::string& path) {
    Inode in = inode(root_ref());
    std::size_t pos = 0;
    while (pos < path.size()) {
        std::size_t end = path.find('/', pos);
        if (end == std::string::npos) end = path.size();
        std::string_view part(path.data() + pos, end - pos);
        pos = end + 1;
        if (part.empty() || part == ".") continue;
        if (!image_parts::inode_is_dir(*in)) return nullptr;
        auto e = find(*in, part);
        if (!e) return nullptr;
        in = inode(e->ref);
    }
    return in;
}

std::optional<std::string> Image::root_xattr(const char* name, std::size_t max) {
    Inode root = inode(root_ref());
    for (auto& [key, value] : xattrs(*root)) {
        if (key != name) continue;
        if (value.size() > max)
            throw Error(Errc::invalid,
                        path_ + ": the root's xattr " + name + " is larger than " +
                            std::to_string(max) + " bytes",
                        "write the file again with `gantry save --format squashfs`");
        return std::move(value);
    }
    return std::nullopt;
}

std::optional<std::string> Image::read_file(const std::string& path, std::size_t max) {
    Inode in = lookup(path);
    if (!in || !image_parts::inode_is_file(*in)) return std::nullopt;
    auto size = static_cast<std::uint64_t>(stat(*in).st_size);
    if (size > max)
        throw Error(Errc::invalid,
                    path_ + ": /" + path + " is larger than " + std::to_string(max) + " bytes");
    std::string out(size, '\0');
    if (read(*in, 0, out.data(), size) != size) damaged("/" + path, SQFS_ERROR_CORRUPTED);
    return out;
}

std::optional<mode_t> Image::mode_of(const std::string& path) {
    Inode in = lookup(path);
    if (!in) return std::nullopt;
    return stat(*in).st_mode;
}

std::vector<std::string> Image::list_dir(const std::string& path) {
    std::vector<std::string> out;
    Inode in = lookup(path);
    if (!in || !image_parts::inode_is_dir(*in)) return out;
    for (auto& e : *entries(*in)) out.push_back(e.name);
    return out;
}

std::optional<Header> Image::header() {
    auto v = root_xattr(kHeaderXattr, kMaxHeader);
    if (!v) return std::nullopt;
    return parse_header(*v, path_);
}

} // namespace gantry::sqsh
