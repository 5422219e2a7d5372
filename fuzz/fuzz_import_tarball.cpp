// Fuzzes the tarball of `gantry import` (image_build/import): any bytes read as layer::TarReader
// reads a user's tarball, plain or through libarchive's gzip, bzip2, xz, lzma and zstd filters,
// every entry's header and data blocks taken as LayerWriter::copy_entries takes them. An entry's
// data blocks lie inside its size (a sparse file's offsets do not go back); a bomb (a few bytes
// that inflate without end) is cut at 64 MiB of data, as the harness's own bound (import itself
// has none: a user may import a root filesystem of any size).
#include "fuzz_support.hpp"
#include "layer/tar_reader.hpp"

using namespace gantry;

GANTRY_FUZZ_TARGET(import_tarball) {
    fuzz::MemReader in(fuzz::bytes(data, size), 1 + size % 4093);
    fuzz::expect_error([&] {
        layer::TarReader tar(in, "fuzz.tar", layer::TarReader::Input::tar_or_compressed);
        std::uint64_t total = 0;
        while (archive_entry* e = tar.next()) {
            std::string name;
            (void)layer::normalize_name(archive_entry_pathname(e), name);
            if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e)) {
                tar.skip();
                continue;
            }
            const void* p;
            std::size_t n;
            std::int64_t off, pos = 0;
            while (tar.block(p, n, off)) {
                FUZZ_CHECK(off >= 0);
                pos = off + static_cast<std::int64_t>(n);
                total += n;
                if (total > (64u << 20)) return;
            }
            (void)pos;
        }
    });
    return 0;
}
