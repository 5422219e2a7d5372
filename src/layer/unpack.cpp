#include "layer/unpack.hpp"

namespace gantry::layer {

UnpackResult unpack_layer(Reader& src, int tee_fd, int root_fd, const ExtractOptions& opt) {
    HashingReader blob(src, tee_fd, opt.what);
    UnpackResult r;
    SniffedStream sniffed(blob, opt.what);
    r.compression = sniffed.compression();
    HashingReader tar(sniffed.plain());
    if (root_fd >= 0)
        r.stats = extract_tar(tar, root_fd, opt);
    else
        drain(tar);
    drain(blob); // anything after the compressed stream still belongs to the blob
    r.blob_hex = blob.hex_final();
    r.blob_size = blob.count();
    r.diff_hex = tar.hex_final();
    r.diff_size = tar.count();
    return r;
}

} // namespace gantry::layer
