// sqsh::Image's reads of a file's own data blocks, from several threads at once and through a
// cache of decompressed blocks (image_tables.hpp) that the server's threads share. Each thread
// decompresses with its own decompressor (gzip's keeps a stream), outside the cache's lock.
// Fragment blocks hold the tails of many small files: they stay with libsquashfs' one shared
// reader, under the server's lock, so that a fragment is decompressed once, not once per thread
// (tried: docs/sqsh.md).
//
// The block list is the image's: every size is checked here (a stored size is at most the
// block size, a block decompresses to exactly the bytes of the file it holds, every read lies
// inside the file: fd_read_at), and fuzz/fuzz_sqsh_reader.cpp checks that these reads return
// what libsquashfs' reader returns.
#include "sqsh/image_tables.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cstring>

extern "C" {
#include <sqfs/block.h>
}

namespace gantry::sqsh {

namespace {

constexpr std::uint32_t kNoFragment = 0xffffffff;

// A regular file's block list, from its inode.
struct Blocks {
    std::uint64_t file_size = 0;
    std::uint64_t start = 0; // where its first block is in the file
    std::uint32_t fragment = kNoFragment;
    std::uint64_t count = 0; // entries in `sizes`
    const sqfs_u32* sizes = nullptr;
};

bool blocks_of(const sqfs_inode_generic_t& in, Blocks& b) {
    if (in.base.type == SQFS_INODE_FILE) {
        b.file_size = in.data.file.file_size;
        b.start = in.data.file.blocks_start;
        b.fragment = in.data.file.fragment_index;
    } else if (in.base.type == SQFS_INODE_EXT_FILE) {
        b.file_size = in.data.file_ext.file_size;
        b.start = in.data.file_ext.blocks_start;
        b.fragment = in.data.file_ext.fragment_idx;
    } else {
        return false;
    }
    b.count = in.payload_bytes_used / sizeof(sqfs_u32);
    b.sizes = in.extra;
    return true;
}

// A thread's decompressor for the image whose tables have SERIAL, and its input buffer.
struct ThreadReader {
    std::uint64_t serial = 0;
    Owned<sqfs_compressor_t> cmp;
    std::vector<char> packed;
};

} // namespace

bool Image::in_own_blocks(const sqfs_inode_generic_t& in, std::uint64_t offset, std::size_t size) {
    Blocks b;
    if (before_read_ || size == 0 || !blocks_of(in, b)) return false; // a lazy image: one at a time
    std::uint64_t own = std::min(b.file_size, b.count * tables().super.block_size);
    if (offset >= own) return false;
    // past the end of a file without a fragment: the read stops at its end
    return size <= own - offset || (b.fragment == kNoFragment && own == b.file_size);
}

std::vector<layer::DataRegion> Image::data_regions(const sqfs_inode_generic_t& in) {
    Blocks b;
    if (!blocks_of(in, b)) return {};
    const std::uint64_t bs = tables().super.block_size;
    const std::uint64_t own = std::min(b.file_size, b.count * bs);
    std::vector<layer::DataRegion> regions;
    bool sparse = false;
    for (std::uint64_t i = 0; i * bs < own; ++i) {
        if (SQFS_IS_SPARSE_BLOCK(b.sizes[i])) {
            sparse = true;
            continue;
        }
        auto at = static_cast<std::int64_t>(i * bs);
        auto len = static_cast<std::int64_t>(std::min(bs, own - i * bs));
        if (!regions.empty() && regions.back().offset + regions.back().length == at)
            regions.back().length += len;
        else
            regions.push_back({at, len});
    }
    if (!sparse) return {};
    if (own < b.file_size) { // the tail in a fragment block
        auto at = static_cast<std::int64_t>(own);
        auto len = static_cast<std::int64_t>(b.file_size - own);
        if (!regions.empty() && regions.back().offset + regions.back().length == at)
            regions.back().length += len;
        else
            regions.push_back({at, len});
    }
    if (regions.empty()) regions.push_back({static_cast<std::int64_t>(b.file_size), 0});
    return regions;
}

std::size_t Image::read_blocks(const sqfs_inode_generic_t& in, std::uint64_t offset, char* buf,
                               std::size_t size) {
    Tables& t = tables();
    Blocks b;
    std::string what = "file " + std::to_string(in.base.inode_number);
    if (!blocks_of(in, b)) damaged(what, SQFS_ERROR_NOT_FILE);
    const std::uint64_t bs = t.super.block_size;
    if (offset >= b.file_size) return 0;
    size = static_cast<std::size_t>(std::min<std::uint64_t>(size, b.file_size - offset));
    if (offset + size > b.count * bs) damaged(what, SQFS_ERROR_OUT_OF_BOUNDS);

    thread_local ThreadReader r;
    if (r.serial != t.serial) {
        r.cmp.reset();
        r.serial = 0;
        sqfs_compressor_t* cmp = nullptr;
        if (int e = sqfs().compressor_create(&t.cmp_config, &cmp)) damaged("the compressor", e);
        r.cmp.reset(cmp);
        if ((t.super.flags & SQFS_FLAG_COMPRESSOR_OPTIONS) && r.cmp->read_options)
            if (int e = r.cmp->read_options(r.cmp.get(), &t.file.base))
                damaged("the compressor options", e);
        r.serial = t.serial;
    }
    BlockCache& cache = *t.blocks;

    // the block at AT (stored size STORED) holding UNPACKED bytes of the file, decompressed
    auto block = [&](std::uint64_t at, std::uint32_t stored, std::uint64_t unpacked) {
        {
            std::lock_guard hold(cache.m);
            for (auto& e : cache.entries)
                if (e.at == at && e.stored == stored && e.size == unpacked) {
                    e.used = ++cache.tick;
                    return e.data;
                }
        }
        std::uint32_t disk = SQFS_ON_DISK_BLOCK_SIZE(stored);
        if (disk > bs) damaged(what + " (a block's size)", SQFS_ERROR_CORRUPTED);
        auto out = std::make_shared_for_overwrite<char[]>(unpacked); // every byte written
        if (!SQFS_IS_BLOCK_COMPRESSED(stored)) {
            if (disk != unpacked) damaged(what + " (a block's size)", SQFS_ERROR_CORRUPTED);
            if (int e = fd_read_at(&t.file.base, at, out.get(), disk)) damaged(what, e);
        } else {
            r.packed.resize(disk);
            if (int e = fd_read_at(&t.file.base, at, r.packed.data(), disk)) damaged(what, e);
            sqfs_s32 n = r.cmp->do_block(r.cmp.get(), reinterpret_cast<sqfs_u8*>(r.packed.data()),
                                         disk, reinterpret_cast<sqfs_u8*>(out.get()),
                                         static_cast<sqfs_u32>(unpacked));
            if (n < 0) damaged(what, n);
            if (static_cast<std::uint64_t>(n) != unpacked)
                damaged(what + " (a block's size)", SQFS_ERROR_CORRUPTED);
        }
        std::shared_ptr<const char[]> data = std::move(out);
        std::lock_guard hold(cache.m);
        if (cache.entries.size() < cache.most) {
            cache.entries.push_back({at, stored, data, unpacked, ++cache.tick});
        } else {
            auto oldest =
                std::min_element(cache.entries.begin(), cache.entries.end(),
                                 [](const BlockCache::Entry& x, const BlockCache::Entry& y) {
                                     return x.used < y.used;
                                 });
            *oldest = {at, stored, data, unpacked, ++cache.tick};
        }
        return data;
    };

    std::uint64_t i = offset / bs;
    std::uint64_t at = b.start; // block i's place: the sizes before it added up
    for (std::uint64_t k = 0; k < i; ++k) at += SQFS_ON_DISK_BLOCK_SIZE(b.sizes[k]);
    std::size_t done = 0;
    for (; done < size; ++i) {
        std::uint64_t unpacked = std::min(bs, b.file_size - i * bs);
        std::uint64_t from = offset + done - i * bs;
        auto n = static_cast<std::size_t>(std::min<std::uint64_t>(unpacked - from, size - done));
        std::uint32_t stored = b.sizes[i];
        if (SQFS_IS_SPARSE_BLOCK(stored)) {
            std::memset(buf + done, 0, n);
        } else {
            auto data = block(at, stored, unpacked);
            std::memcpy(buf + done, data.get() + from, n);
        }
        at += SQFS_ON_DISK_BLOCK_SIZE(stored);
        done += n;
    }
    return done;
}

} // namespace gantry::sqsh
