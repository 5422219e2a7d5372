// sqsh/format: what makes a SquashFS file a gantry single-file image, and the checks gantry
// itself applies to any squashfs before handing it to a library.
//
// A .sqsh is a plain SquashFS 4.0 file (zstd, 128 KiB blocks) whose root directory is the
// image's flattened root filesystem, so enroot, Charliecloud, squashfuse and the kernel read it
// as they read their own. The image's identity and run settings live in ONE extended attribute
// of the root directory, `user.gantry.image` (kHeaderXattr): a small JSON document with the
// manifest and config digests, the layer diff IDs and the config blob itself, byte for byte (so
// its digest can be verified). Why an xattr and not a file: every path of the root belongs to
// the image (a file at "/.gantry/image.json" could be image content, and would appear in the
// container's "/"), while the writer controls the root's xattrs: an image's own
// user.gantry.* attributes on "/" are dropped when the file is written. A squashfs without the
// attribute (plain mksquashfs, enroot, Charliecloud) is an image with an empty config.
//
// check_superblock is gantry's own parsing of untrusted bytes (fuzz/fuzz_sqsh_header.cpp): the
// 96-byte superblock's fields are bounded against the file before any library reads a table.
#pragma once

#include "oci/digest.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::sqsh {

inline constexpr const char* kHeaderXattr = "user.gantry.image";
inline constexpr std::uint32_t kBlockSize = 128 * 1024;
inline constexpr std::size_t kMaxHeader = 4u << 20; // bytes of the header xattr's value
inline constexpr int kHeaderFormat = 1;

struct Header {
    oci::Digest manifest;              // the store image it was written from
    oci::Digest config_digest;         // sha256 of `config`
    std::vector<oci::Digest> diff_ids; // the layers it flattens, bottom first
    std::string config;                // the config blob, byte for byte
};

// The header as the xattr's value (JSON).
std::string header_json(const Header& h);
// Parses and verifies a header value (strict: known fields with the right types, digests
// well-formed, sha256(config) == config_digest, config a JSON object). Throws Error(invalid)
// naming `what` and the defect.
Header parse_header(std::string_view value, const std::string& what);

struct Superblock {
    std::uint32_t inodes = 0, block_size = 0, fragments = 0;
    std::uint16_t compression = 0, no_ids = 0, flags = 0;
    std::uint64_t root_inode = 0, bytes_used = 0;
    std::uint64_t id_table = 0, xattr_table = 0, inode_table = 0, dir_table = 0, fragment_table = 0,
                  export_table = 0;
};
inline constexpr std::size_t kSuperblockSize = 96;
inline constexpr std::uint64_t kNoTable = ~std::uint64_t{0};

// The squashfs compressor's name ("zstd", "gzip", ...) or "unknown".
std::string compression_name(std::uint16_t id);

// Parses the superblock at the start of `head` (at least kSuperblockSize bytes) of a file of
// `file_size` bytes and bounds it: magic and version 4.0, a block size that is a power of two
// in 4 KiB..1 MiB and agrees with its log, a compressor libsquashfuse decodes, bytes_used within
// the file, tables inside bytes_used and in order, an inode count the inode table can hold, a
// root inode inside it. Throws Error(invalid) "<what> is not a usable squashfs image: <why>".
Superblock check_superblock(std::string_view head, std::uint64_t file_size,
                            const std::string& what);

// Whether `head` starts with the squashfs magic ("hsqs").
bool looks_like_squashfs(std::string_view head);

} // namespace gantry::sqsh
