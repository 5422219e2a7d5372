// layer/tar_reader: a libarchive tar reader over a layer::Reader (uncompressed tar stream), with
// errors that name the layer. Shared by the analyzer (headers, contents), slim (copying entries
// into a new layer) and the squashfs converters (sqsh/write, sqsh/load).
#pragma once

#include "layer/stream.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace gantry::layer {

class TarReader {
  public:
    // What the stream may be besides a plain tar: a layer's stream is decompressed before it
    // gets here (layer/stream.hpp); a user's tarball (`gantry import`) may be gzip, bzip2, xz,
    // lzma or zstd compressed, read by libarchive's filters linked in (no external program).
    enum class Input { tar, tar_or_compressed };
    TarReader(layer::Reader& in, std::string what, Input input = Input::tar);
    ~TarReader();
    TarReader(const TarReader&) = delete;
    TarReader& operator=(const TarReader&) = delete;

    // The next entry, or nullptr at the end of the archive.
    archive_entry* next();
    // The next block of the current entry's data (false at its end); offset for sparse files.
    bool block(const void*& data, std::size_t& size, std::int64_t& offset);
    void skip();
    struct archive* handle() {
        return a_;
    }
    const std::string& what() const { return what_; }

  private:
    [[noreturn]] void fail();
    layer::Reader& in_;
    std::string what_;
    std::vector<char> buf_;
    std::exception_ptr error_;
    struct archive* a_ = nullptr;
    bool any_ = false;
    static la_ssize_t read_cb(struct archive* a, void* p, const void** out);
};

// The largest sparse file (GNU/PAX sparse) a writer that must write its holes out as zeros
// takes: the lazy formats (no sparse map), the squashfs packer (tar2sqfs took 6 minutes on a
// 2 TiB one and crashed), slim. A hostile layer's 2 TiB file is 10 KB in its tar; a real one
// (lastlog of a large uid) is far smaller.
inline constexpr std::int64_t kMaxExpandedSparse = std::int64_t(16) << 30;
// The largest one a writer that keeps the holes takes (store::LayerWriter::copy_entries, which
// still walks them): ext4's largest file; 2^62 bytes, 10 KB in a tar, was a walk without end.
inline constexpr std::int64_t kMaxKeptSparse = std::int64_t(16) << 40;
// Error(unsupported) naming the entry of WHAT and the format INTO when E is a sparse file larger
// than LIMIT; nothing for a file that is not sparse (its bytes are in the tar).
void refuse_vast_sparse(archive_entry* e, const std::string& what, const std::string& into,
                        std::int64_t limit = kMaxExpandedSparse);

// Normalised entry name ("./usr//bin/" -> "usr/bin"); false when a ".." component is present.
bool normalize_name(const char* name, std::string& out);

} // namespace gantry::layer
