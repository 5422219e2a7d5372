// lazy/tar_split: a lazy layer's tar-split (layer/tar_split.hpp: the format, its parser and the
// reassembly) checked against the layer's verified table of contents.
#pragma once

#include "layer/tar_split.hpp"
#include "lazy/toc.hpp"

#include <string>
#include <vector>

namespace gantry::lazy::tar_split {

using layer::tar_split::assemble;
using layer::tar_split::components;
using layer::tar_split::Entry;
using layer::tar_split::line;
using layer::tar_split::parse;

// Error(invalid) naming WHAT unless every file entry with content names a regular file of TOC
// of that size (hard links and empty files carry none).
void check(const std::vector<Entry>& entries, const Toc& toc, const std::string& what);

} // namespace gantry::lazy::tar_split
