#include "layer/unpack.hpp"

namespace gantry::layer {

UnpackResult unpack_layer(Reader& src, int tee_fd, int root_fd, const ExtractOptions& opt) {
    HashingReader blob(src, tee_fd, opt.what);
    std::vector<unsigned char> head(4096);
    std::size_t got = 0;
    while (got < head.size()) {
        std::size_t n = blob.read(head.data() + got, head.size() - got);
        if (n == 0) break;
        got += n;
    }
    head.resize(got);
    UnpackResult r;
    r.compression = oci::sniff_compression(head.data(), head.size());
    PrefixedReader prefixed(std::move(head), blob);
    auto plain = make_decompressor(r.compression, prefixed, opt.what);
    HashingReader tar(*plain);
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
