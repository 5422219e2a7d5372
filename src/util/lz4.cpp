#include "util/lz4.hpp"

#include <climits>
#include <lz4.h>

namespace gantry::lz4 {

bool decompress_block(std::string_view in, std::string& out, std::size_t out_size) {
    if (in.size() > INT_MAX || out_size > INT_MAX) return false;
    out.resize(out_size);
    int n = LZ4_decompress_safe(in.data(), out.data(), static_cast<int>(in.size()),
                                static_cast<int>(out_size));
    return n >= 0 && static_cast<std::size_t>(n) == out_size;
}

} // namespace gantry::lz4
