#include "layer/unpack.hpp"

#include "layer/tar_split_recorder.hpp"

#include <optional>

namespace gantry::layer {

UnpackResult unpack_layer(Reader& src, int tee_fd, int root_fd, const ExtractOptions& opt,
                          bool record_tar_split) {
    HashingReader blob(src, tee_fd, opt.what);
    UnpackResult r;
    SniffedStream sniffed(blob, opt.what);
    r.compression = sniffed.compression();
    HashingReader tar(sniffed.plain());
    std::optional<TarSplitRecorder> split;
    if (record_tar_split && root_fd >= 0) split.emplace(tar);
    Reader& in = split ? static_cast<Reader&>(*split) : tar;
    if (root_fd >= 0) r.stats = extract_tar(in, root_fd, opt);
    drain(in);
    if (split) {
        r.tar_split = split->finish();
        r.not_reproducible = split->why();
        r.tar_split_files = split->files();
        r.tar_split_file_lines = split->take_file_lines();
    }
    drain(blob); // anything after the compressed stream still belongs to the blob
    r.blob_hex = blob.hex_final();
    r.blob_size = blob.count();
    r.diff_hex = tar.hex_final();
    r.diff_size = tar.count();
    return r;
}

} // namespace gantry::layer
