#include "layer/igzip.hpp"

#include "util/error.hpp"

#include <dlfcn.h>
#include <string>

namespace gantry::layer::igzip {

namespace {

constexpr const char* kLibrary = "libisal.so.2";

template <class F>
void bind(void* lib, const char* name, F& fn) {
    fn = reinterpret_cast<F>(::dlsym(lib, name));
    if (!fn)
        throw Error(Errc::unsupported,
                    std::string(kLibrary) + " has no " + name + ": not the ISA-L gantry needs",
                    "reinstall the libisal2 package (apt-get install --reinstall libisal2)");
}

Api load() {
    void* lib = ::dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char* e = ::dlerror();
        throw Error(Errc::unsupported,
                    std::string("gzip layers need ISA-L, which cannot be loaded: ") +
                        (e ? e : kLibrary),
                    "install the libisal2 package (apt-get install libisal2)");
    }
    Api a{};
    bind(lib, "isal_inflate_init", a.inflate_init);
    bind(lib, "isal_inflate", a.inflate);
    bind(lib, "isal_deflate_init", a.deflate_init);
    bind(lib, "isal_deflate", a.deflate);
    return a; // the library stays loaded for the life of the process
}

} // namespace

const Api& api() {
    static const Api a = load();
    return a;
}

} // namespace gantry::layer::igzip
