// layer/file_holes: a file on disk written into a layer tar with its holes kept, when writing
// them out as zeros would be vast (a RUN's lastlog of a large uid, `truncate -s 2T`).
#pragma once

#include <archive_entry.h>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace gantry::layer {

struct DataRegion {
    std::int64_t offset = 0, length = 0;
};

// The regions of FD's data below SIZE (SEEK_DATA/SEEK_HOLE; the whole file as one region where
// the file system reports no holes). Throws Error(io) naming WHAT.
std::vector<DataRegion> data_regions(int fd, std::int64_t size, const std::string& what);

// The data regions of a file of SIZE whose holes would be vast written out (SIZE over
// kMaxExpandedSparse and holes in it: an all-hole file gives one empty region at SIZE); empty for
// any other file.
std::vector<DataRegion> vast_holes(int fd, std::int64_t size, const std::string& what);

// For a file of SIZE whose holes would be vast written out (SIZE over kMaxExpandedSparse and
// holes in it): its data regions, after adding them to E's sparse map so that the pax writer
// keeps the holes; Error(unsupported) over kMaxKeptSparse (ext4's largest file). Empty for any
// other file: its bytes are written whole, zeros included, as docker writes them, so that the
// layer's digest does not depend on how a file system happened to lay its zeros out.
std::vector<DataRegion> keep_vast_holes(archive_entry* e, int fd, std::int64_t size,
                                        const std::string& what);

// Adds REGIONS, the data of a file of SIZE with holes between them, to E's sparse map, so that
// the pax writer keeps the holes; Error(unsupported) naming WHAT over kMaxKeptSparse.
void add_sparse_map(archive_entry* e, const std::vector<DataRegion>& regions, std::int64_t size,
                    const std::string& what);

// FD's data through DATA as the writer takes it after the header: the bytes of each region at
// its offset, the holes between them and up to SIZE as zeros (which the pax writer skips where
// the header carried the sparse map); REGIONS empty: every byte read. Error(io) naming WHAT when
// the file ends early (it changed while it was written).
void stream_file(int fd, const std::vector<DataRegion>& regions, std::int64_t size,
                 const std::function<void(const void*, std::size_t)>& data,
                 const std::string& what);

// The bytes of REGION of FD through DATA; Error(io) naming WHAT when the file ends early.
void read_region(int fd, const DataRegion& region,
                 const std::function<void(const void*, std::size_t)>& data,
                 const std::string& what);

// Zeros through DATA from POS up to TO (POS ends at TO): the holes of a sparse entry.
void zero_fill(std::int64_t& pos, std::int64_t to,
               const std::function<void(const void*, std::size_t)>& data);

} // namespace gantry::layer
