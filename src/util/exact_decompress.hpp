// util/exact_decompress: decompressing a zlib stream or a zstd frame whose size was declared
// beforehand (HIP's compressed offload bundles, read by compat/hip_fatbin and rebuilt by
// tailor/ccob), refusing one that holds more or fewer bytes than declared. The input is
// untrusted: nothing is written past `expected` bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace gantry::decompress {

// Inflates the zlib stream at the start of `in` to exactly `expected` bytes; consumed: the
// compressed bytes the stream used. Throws Error(invalid) beginning with `what` for a stream that
// is corrupt, truncated, or inflates to more or fewer bytes; `whose` words the declared size in
// the bomb's refusal ("WHAT inflates to more than WHOSE declared N bytes": "its", "the").
std::string zlib_exact(std::string_view in, std::uint64_t expected, std::uint64_t& consumed,
                       const std::string& what, const std::string& whose);

// The zstd frame at the start of `in`, exactly `expected` bytes; consumed: the frame's compressed
// size. Throws Error(invalid) beginning with `what` ("the zstd frame") for a frame that is
// corrupt, truncated, or holds more or fewer bytes.
std::string zstd_exact(std::string_view in, std::uint64_t expected, std::uint64_t& consumed,
                       const std::string& what);

} // namespace gantry::decompress
