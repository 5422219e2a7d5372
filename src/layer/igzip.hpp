// ISA-L's igzip (gzip layers: inflate when loading and pulling, deflate when slimming), loaded
// with dlopen the first time a gzip stream is read or written. A shared library linked into
// gantry is mapped and relocated at every start, ~80 us here (bench/README.md), and `gantry
// run`, `exec`, `ps` ... never touch gzip. Debian ships no static libisal.
#pragma once

#include <isa-l/igzip_lib.h>

namespace gantry::layer::igzip {

struct Api {
    decltype(&::isal_inflate_init) inflate_init;
    decltype(&::isal_inflate) inflate;
    decltype(&::isal_gzip_header_init) gzip_header_init;
    decltype(&::isal_read_gzip_header) read_gzip_header;
    decltype(&::isal_deflate_init) deflate_init;
    decltype(&::isal_deflate) deflate;
};

// libisal.so.2's functions, loaded once (thread-safe). Throws Error(unsupported) naming the
// package when the library cannot be loaded.
const Api& api();

} // namespace gantry::layer::igzip
