// The DOM reader of a table of contents that src/lazy/toc_parser.cpp replaced, kept for
// test_toc_differential only (toc_dom_reference.cpp says what it is).
#pragma once

#include "lazy/toc.hpp"

#include <string>
#include <string_view>

namespace toc_dom_reference {

// What lazy::Toc::parse returned, or the Error(invalid) it threw, before the streaming reader.
gantry::lazy::Toc parse(std::string_view json, std::uint64_t toc_offset, const std::string& what,
                        gantry::lazy::TocFormat format);
// What lazy::zstd_chunked::tar_split_digest returned: the top-level "tarSplitDigest" string.
std::string tar_split_digest(std::string_view toc_json);

} // namespace toc_dom_reference
