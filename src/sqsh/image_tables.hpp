// sqsh/image_tables: what sqsh::Image holds of libsquashfs (its objects over gantry's descriptor),
// shared by image.cpp, image_paths.cpp and image_blocks.cpp. Internal to sqsh/.
#pragma once

#include "sqsh/image.hpp"
#include "sqsh/libsquashfs.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <memory>
#include <mutex>
#include <unistd.h>
#include <vector>

namespace gantry::sqsh {

// What Image::Tables holds (a named namespace: the struct is not internal to this file).
namespace image_parts {

inline bool inode_is_dir(const sqfs_inode_generic_t& in) {
    return in.base.type == SQFS_INODE_DIR || in.base.type == SQFS_INODE_EXT_DIR;
}
inline bool inode_is_file(const sqfs_inode_generic_t& in) {
    return in.base.type == SQFS_INODE_FILE || in.base.type == SQFS_INODE_EXT_FILE;
}

// The image's file for libsquashfs: reads by pread on gantry's descriptor, within its size;
// never writes. Lives inside Image::Tables (destroy does nothing).
struct FdFile {
    sqfs_file_t base; // first member: libsquashfs casts
    int fd;
    std::uint64_t size;
    std::uint64_t at; // where the image starts in the file (a SIF's partition; 0 for a .sqsh)
    const Image::BeforeRead* before; // the bytes made present first (a lazy image)
};

inline int fd_read_at(sqfs_file_t* f, sqfs_u64 offset, void* buffer, size_t size) {
    auto* self = reinterpret_cast<FdFile*>(f);
    if (offset > self->size || size > self->size - offset) return SQFS_ERROR_OUT_OF_BOUNDS;
    if (self->before && *self->before) try {
            (*self->before)(offset, size);
        } catch (const std::exception&) { // said by the hook; no exception crosses libsquashfs
            return SQFS_ERROR_IO;
        }
    auto* p = static_cast<char*>(buffer);
    while (size > 0) {
        ssize_t n = ::pread(self->fd, p, size, static_cast<off_t>(self->at + offset));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return SQFS_ERROR_IO;
        p += n;
        offset += static_cast<sqfs_u64>(n);
        size -= static_cast<size_t>(n);
    }
    return 0;
}
inline int fd_write_at(sqfs_file_t*, sqfs_u64, const void*, size_t) {
    return SQFS_ERROR_IO;
}
inline sqfs_u64 fd_get_size(const sqfs_file_t* f) {
    return reinterpret_cast<const FdFile*>(f)->size;
}
inline int fd_truncate(sqfs_file_t*, sqfs_u64) {
    return SQFS_ERROR_IO;
}
inline void fd_destroy(sqfs_object_t*) {}

template <class T>
struct Destroy {
    void operator()(T* p) const {
        if (p) sqfs_destroy(p);
    }
};
template <class T>
using Owned = std::unique_ptr<T, Destroy<T>>;

} // namespace image_parts

using namespace image_parts;

// A number no other Image::Tables of this process has had.
inline std::uint64_t next_serial() {
    static std::atomic<std::uint64_t> last{0};
    return ++last;
}

// Decompressed data blocks, by their place in the file, the most recently used kept (about
// 8 MiB): shared by the server's threads (image_blocks.cpp). A block the kernel asks for twice
// (an exec's page faults read 128 KiB around each fault, i.e. two blocks, often one of them
// again) is decompressed once.
struct BlockCache {
    struct Entry {
        std::uint64_t at = 0;     // the block's offset in the file
        std::uint32_t stored = 0; // its size word (the uncompressed flag included)
        std::shared_ptr<const char[]> data;
        std::size_t size = 0;   // of data
        std::uint64_t used = 0; // when last used (tick)
    };
    static constexpr std::size_t kBytes = 8u << 20;
    explicit BlockCache(std::size_t block_size)
        : most(std::max<std::size_t>(2, kBytes / block_size)) {}
    std::mutex m;
    std::vector<Entry> entries; // at most `most`
    const std::size_t most;
    std::uint64_t tick = 0;
};

struct Image::Tables {
    FdFile file{};
    sqfs_super_t super{};
    Owned<sqfs_compressor_t> cmp;
    Owned<sqfs_id_table_t> ids;
    Owned<sqfs_meta_reader_t> inodes, dirs;
    Owned<sqfs_data_reader_t> data;
    Owned<sqfs_xattr_reader_t> xattrs; // null when the image has none; its descriptors
    Owned<sqfs_meta_reader_t> kv;      // its key-value pairs, starting at kv_start
    std::uint64_t kv_start = 0;
    sqfs_compressor_config_t cmp_config{}; // what a thread's own decompressor is made from
    std::uint64_t serial = next_serial();  // tells a thread's reader (image_blocks.cpp) apart
    std::unique_ptr<BlockCache> blocks;    // made with the tables
};

} // namespace gantry::sqsh
