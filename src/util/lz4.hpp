// LZ4 blocks, decoded by liblz4 (linked statically): the raw blocks, without a frame, that CUDA
// fat binaries hold in their LZ4-compressed entries (nvcc --compress-mode=speed). liblz4's safe
// decoder never reads past the input nor writes past the output, whatever the bytes: compressed
// entries come from untrusted images.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gantry::lz4 {

// Decodes the raw LZ4 block `in` into `out`, which ends up exactly `out_size` bytes long; false
// when the block is malformed (LZ4's end-of-block rules included: the last sequence is literals
// only) or does not decode to exactly that many bytes. Inputs and sizes past 2 GiB (LZ4's limit
// for one block) are refused.
bool decompress_block(std::string_view in, std::string& out, std::size_t out_size);

} // namespace gantry::lz4
