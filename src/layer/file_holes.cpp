#include "layer/file_holes.hpp"

#include "layer/tar_reader.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cerrno>
#include <unistd.h>

namespace gantry::layer {

std::vector<DataRegion> data_regions(int fd, std::int64_t size, const std::string& what) {
    std::vector<DataRegion> out;
    off_t pos = 0;
    while (pos < size) {
        off_t data = ::lseek(fd, pos, SEEK_DATA);
        if (data < 0) {
            if (errno == ENXIO) break;                           // only a hole up to the end
            if (errno == EINVAL && pos == 0) return {{0, size}}; // no SEEK_DATA here
            throw_errno("cannot read " + what);
        }
        if (data >= size) break;
        off_t hole = ::lseek(fd, data, SEEK_HOLE);
        if (hole < 0) throw_errno("cannot read " + what);
        hole = std::min<off_t>(hole, size);
        out.push_back({data, hole - data});
        pos = hole;
    }
    return out;
}

std::vector<DataRegion> vast_holes(int fd, std::int64_t size, const std::string& what) {
    if (size <= kMaxExpandedSparse) return {};
    auto regions = data_regions(fd, size, what);
    std::int64_t data = 0;
    for (const auto& r : regions) data += r.length;
    if (data == size) return {};                       // no hole: a large file, written whole
    if (regions.empty()) regions.push_back({size, 0}); // all hole: one empty region at the end
    return regions;
}

std::vector<DataRegion> keep_vast_holes(archive_entry* e, int fd, std::int64_t size,
                                        const std::string& what) {
    auto regions = vast_holes(fd, size, what);
    if (regions.empty()) return regions;
    add_sparse_map(e, regions, size, what);
    return regions;
}

void add_sparse_map(archive_entry* e, const std::vector<DataRegion>& regions, std::int64_t size,
                    const std::string& what) {
    if (size > kMaxKeptSparse) {
        std::int64_t data = 0;
        for (const auto& r : regions) data += r.length;
        throw Error(Errc::unsupported,
                    what + " is a sparse file of " + std::to_string(size) + " bytes (" +
                        std::to_string(data) +
                        " of data), more than a layer gantry writes takes: " +
                        std::to_string(kMaxKeptSparse >> 40) + " TiB",
                    "remove the file, or make it smaller (ext4 holds no larger file)");
    }
    for (const auto& r : regions) archive_entry_sparse_add_entry(e, r.offset, r.length);
}

void zero_fill(std::int64_t& pos, std::int64_t to,
               const std::function<void(const void*, std::size_t)>& data) {
    static const std::vector<char> zeros(1 << 20, 0);
    while (pos < to) {
        auto z = static_cast<std::size_t>(
            std::min<std::int64_t>(to - pos, static_cast<std::int64_t>(zeros.size())));
        data(zeros.data(), z);
        pos += static_cast<std::int64_t>(z);
    }
}

void read_region(int fd, const DataRegion& region,
                 const std::function<void(const void*, std::size_t)>& data,
                 const std::string& what) {
    std::vector<char> buf(1 << 16);
    std::int64_t pos = region.offset, left = region.length;
    while (left > 0) {
        ssize_t n = ::pread(fd, buf.data(),
                            static_cast<std::size_t>(std::min<std::int64_t>(
                                left, static_cast<std::int64_t>(buf.size()))),
                            static_cast<off_t>(pos));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("cannot read " + what);
        if (n == 0) throw Error(Errc::io, what + " changed while it was copied");
        data(buf.data(), static_cast<std::size_t>(n));
        pos += n;
        left -= n;
    }
}

void stream_file(int fd, const std::vector<DataRegion>& regions, std::int64_t size,
                 const std::function<void(const void*, std::size_t)>& data,
                 const std::string& what) {
    if (regions.empty()) return read_region(fd, {0, size}, data, what);
    std::int64_t pos = 0;
    for (const auto& r : regions) {
        zero_fill(pos, r.offset, data);
        read_region(fd, r, data, what);
        pos = r.offset + r.length;
    }
    zero_fill(pos, size, data);
}

} // namespace gantry::layer
