// sif/write: the bytes of a SIF file that gantry writes (`save --format sif`), laid out as the
// reference implementation lays out a new image with one object: the 128-byte global header,
// a table of 48 descriptors (the reference's default capacity) at byte 4096, and the squashfs
// partition (primary system partition, its architecture recorded) at the next 4096-byte
// boundary, byte 32768. The partition's bytes are the caller's to write after layout().
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace gantry::sif {

inline constexpr std::uint64_t kPartitionOffset = 32768;
inline constexpr std::int64_t kWriteCapacity = 48;

// The SIF's 3-byte arch code for GOARCH name ARCH ("amd64": "02\0"); "00\0" for others.
std::string arch_code(const std::string& arch);

// The first kPartitionOffset bytes of a SIF whose one object is a squashfs partition of
// PARTITION_SIZE bytes built for ARCH: header (id ID, 16 bytes; created and modified NOW),
// descriptor table, zeros up to the partition.
std::string layout(std::uint64_t partition_size, const std::string& arch, std::string_view id,
                   std::int64_t now);

} // namespace gantry::sif
