// Fuzzes the block-digest table reader of squashfs artifacts (lazy/squashfs_block_digests): a
// table as a registry serves it (verified by the manifest's digest, so hostile only if its
// writer was), read against the blob size in its own header (a manifest that agrees with it) and
// against that size plus one (which must be refused). What parses must hold exactly one digest
// per range of the blob, a power-of-two range size from 64 KiB to 16 MiB, and match nothing past
// its last range. The input is also written as a blob (64 KiB ranges): its table must parse and
// match each of its ranges.
#include "fuzz_support.hpp"
#include "lazy/squashfs_block_digests.hpp"

using namespace gantry;

GANTRY_FUZZ_TARGET(squashfs_block_digests) {
    std::string_view in = fuzz::bytes(data, size);
    std::uint64_t claimed = 0;
    for (std::size_t i = 0; i < 8 && 16 + i < in.size(); ++i)
        claimed |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[16 + i])) << (8 * i);
    lazy::BlockDigests t;
    if (fuzz::expect_error([&] { t = lazy::BlockDigests::parse(in, claimed, "table fuzz"); })) {
        std::uint64_t r = t.range_size();
        FUZZ_CHECK(r >= (64u << 10) && r <= (16u << 20) && (r & (r - 1)) == 0);
        FUZZ_CHECK(t.blob_size() == claimed);
        FUZZ_CHECK(t.count() == claimed / r + (claimed % r != 0));
        FUZZ_CHECK(in.size() == 24 + 32 * t.count());
        FUZZ_CHECK(!t.matches(t.count(), ""));
        if (t.count() > 0) FUZZ_CHECK(t.digest_of(t.count() - 1).size() == 71);
        FUZZ_CHECK(!fuzz::expect_error(
            [&] { (void)lazy::BlockDigests::parse(in, claimed + 1, "table fuzz"); }));
    }
    lazy::BlockDigests::Writer w(64u << 10);
    w.update(in.data(), in.size());
    auto own = lazy::BlockDigests::parse(w.finish(), in.size(), "table fuzz");
    for (std::uint64_t i = 0; i < own.count(); ++i)
        FUZZ_CHECK(own.matches(i, in.substr(i << 16, 64u << 10)));
    return 0;
}
