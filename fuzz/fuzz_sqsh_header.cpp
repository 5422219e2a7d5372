// Fuzzes gantry's own parsing of a squashfs image (sqsh/format): the superblock bounds checked
// before libsquashfuse reads any table, and the gantry header (the root's user.gantry.image
// xattr). The first byte picks the parser; the superblock is checked against file sizes below,
// at and above the input's. What passes must be internally consistent.
#include "fuzz_support.hpp"
#include "sqsh/format.hpp"

using namespace gantry;

GANTRY_FUZZ_TARGET(sqsh_header) {
    if (size < 1) return 0;
    auto in = fuzz::bytes(data + 1, size - 1);
    if (data[0] & 1) {
        fuzz::expect_error([&] {
            auto h = sqsh::parse_header(in, "fuzz.sqsh");
            FUZZ_CHECK(oci::Digest::of(h.config) == h.config_digest);
            auto again = sqsh::parse_header(sqsh::header_json(h), "again");
            FUZZ_CHECK(again.config == h.config && again.manifest == h.manifest &&
                       again.diff_ids.size() == h.diff_ids.size());
        });
        return 0;
    }
    for (std::uint64_t file :
         {std::uint64_t{in.size()}, std::uint64_t{in.size()} * 4096, std::uint64_t{1} << 40}) {
        fuzz::expect_error([&] {
            auto sb = sqsh::check_superblock(in, file, "fuzz.sqsh");
            FUZZ_CHECK(sb.bytes_used <= file && sb.dir_table < sb.bytes_used);
            FUZZ_CHECK(sb.inode_table < sb.dir_table && sb.inodes > 0);
            FUZZ_CHECK(sb.block_size >= 4096 && sb.block_size <= (1u << 20));
            FUZZ_CHECK(sqsh::compression_name(sb.compression) != "unknown");
        });
    }
    return 0;
}
