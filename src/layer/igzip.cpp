#include "layer/igzip.hpp"

#include "util/library.hpp"

namespace gantry::layer::igzip {

namespace {

Api load() {
    Library lib("libisal.so.2", "gzip layers need ISA-L",
                "install the libisal2 package (apt-get install libisal2)");
    Api a{};
    lib.bind(a.inflate_init, "isal_inflate_init");
    lib.bind(a.inflate, "isal_inflate");
    lib.bind(a.gzip_header_init, "isal_gzip_header_init");
    lib.bind(a.read_gzip_header, "isal_read_gzip_header");
    lib.bind(a.deflate_init, "isal_deflate_init");
    lib.bind(a.deflate, "isal_deflate");
    return a;
}

} // namespace

const Api& api() {
    static const Api a = load();
    return a;
}

} // namespace gantry::layer::igzip
