// One streaming pass over a layer blob: read -> sha256 (-> copy to the blob file) -> decompress
// -> sha256 of the tar (the diffID) -> safe extraction.
#pragma once

#include "layer/extract.hpp"
#include "layer/stream.hpp"
#include "layer/tar_split.hpp"
#include "oci/image.hpp"

#include <cstdint>
#include <string>

namespace gantry::layer {

struct UnpackResult {
    std::string blob_hex; // sha256 of the bytes read from src
    std::uint64_t blob_size = 0;
    std::string diff_hex; // sha256 of the uncompressed tar
    std::uint64_t diff_size = 0;
    oci::Compression compression = oci::Compression::none; // as sniffed from the content
    ExtractStats stats;
    // with RECORD_TAR_SPLIT: the layer's tar-split (layer/tar_split_recorder.hpp)
    std::string tar_split;
    std::vector<tar_split::Entry> tar_split_file_lines; // its file lines (TarSplitRecorder)
    std::string not_reproducible; // why the tree cannot give back the tar ("" when it can)
    std::uint64_t tar_split_files = 0;
};

// tee_fd >= 0 receives a copy of every byte of src; root_fd >= 0 receives the extracted tree
// (root_fd < 0: decompress and hash only). Compression is sniffed from the content.
// RECORD_TAR_SPLIT (with root_fd >= 0): the tar-split is recorded from the same stream.
UnpackResult unpack_layer(Reader& src, int tee_fd, int root_fd, const ExtractOptions& opt,
                          bool record_tar_split = false);

} // namespace gantry::layer
