// lazy/toc_parser: Toc::parse, the streaming reader of a table of contents' JSON (eStargz's and
// zstd:chunked's), and the refusal every TOC reader throws.
//
// The JSON is read with nlohmann::json's SAX interface, never as a DOM: each entry's fields are
// kept (scalars, and only the kind of an array or object) until the entry's object closes, then
// the entry is checked and added to the tree, its buffers reused for the next. The checks, their
// order and what is accepted are the DOM reader's (tests/unit/lazy/toc_dom_reference.cpp keeps
// that reader, and test_toc_differential compares the two): a syntax error anywhere is "not
// JSON" even after an entry was refused (the first refusal is kept until the end), `version` is
// checked before the entries, a key given twice takes its last value (the top level's `entries`
// too: the tree is built again), an entry's unknown fields are skipped whatever they hold, and
// `xattrs` is read as the DOM iterated it (an object by sorted key, an array by index).
// Nesting is unlimited as in the DOM reader (the parser keeps a bit per level, not the stack);
// numbers past uint64 are floats and refused where a whole number is wanted, past a double's
// range a syntax error; strings that are not UTF-8 are syntax errors.
#pragma once

#include "lazy/toc.hpp"

#include <string>

namespace gantry::lazy {

// Error(invalid) naming WHAT: "WHAT: the eStargz table of contents WHY" (or zstd:chunked's).
[[noreturn]] void refuse_toc(TocFormat format, const std::string& what, const std::string& why);

} // namespace gantry::lazy
