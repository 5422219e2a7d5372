// CLI11, without <iostream>'s start-up cost.
//
// With libstdc++ before GCC 13, every file that includes <iostream> gets a static
// std::ios_base::Init, which builds the eight standard streams and the classic locale before
// main: ~0.1 ms on every start, `gantry run` included (bench/README.md). gantry writes with
// stdio; only CLI11 prints with std::cout and std::cerr (help, version, parse errors), so the
// CLI includes CLI11 through this header, which declares the streams without the initializer,
// and main constructs them (std::ios_base::Init) before CLI11 may print. A test checks that
// no std::__ioinit is linked into gantry. Other standard libraries get <iostream> as usual.
#pragma once

#include <istream>
#include <ostream>

#if defined(__GLIBCXX__) && !defined(_GLIBCXX_IOSTREAM)
#define _GLIBCXX_IOSTREAM 1
namespace std {
extern istream cin;
extern ostream cout;
extern ostream cerr;
extern ostream clog;
} // namespace std
#endif

#include <CLI/CLI.hpp>
