#include "util/library.hpp"

#include "util/error.hpp"

#include <dlfcn.h>

namespace gantry {

Library::Library(const char* soname, const char* need, std::string hint)
    : soname_(soname), hint_(std::move(hint)), handle_(::dlopen(soname, RTLD_NOW | RTLD_LOCAL)) {
    if (!handle_) {
        const char* why = ::dlerror();
        throw Error(Errc::unsupported,
                    std::string(need) + ", which cannot be loaded: " + (why ? why : soname), hint_);
    }
}

void* Library::symbol(const char* name) const {
    void* p = ::dlsym(handle_, name);
    if (!p)
        throw Error(Errc::unsupported,
                    std::string(soname_) + " has no " + name + ": not the version gantry needs",
                    hint_);
    return p;
}

} // namespace gantry
