#include "registry/curl.hpp"

#include "util/error.hpp"

#include <dlfcn.h>
#include <mutex>
#include <string>

namespace gantry::registry {

namespace {

template <typename F>
void resolve(void* lib, F& fn, const char* name) {
    void* p = ::dlsym(lib, name);
    if (!p)
        throw Error(Errc::unsupported, std::string("libcurl.so.4 lacks the symbol ") + name,
                    "install a libcurl 7.80 or newer (Debian: apt-get install libcurl4)");
    fn = reinterpret_cast<F>(p);
}

CurlApi load() {
    void* lib = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char* why = ::dlerror();
        throw Error(Errc::unsupported,
                    std::string("registry access needs libcurl, which cannot be loaded: ") +
                        (why ? why : "libcurl.so.4 not found"),
                    "install it (Debian/Ubuntu: apt-get install libcurl4; Fedora: dnf install "
                    "libcurl)");
    }
    CurlApi api;
    resolve(lib, api.global_init, "curl_global_init");
    resolve(lib, api.easy_init, "curl_easy_init");
    resolve(lib, api.easy_setopt, "curl_easy_setopt");
    resolve(lib, api.easy_perform, "curl_easy_perform");
    resolve(lib, api.easy_getinfo, "curl_easy_getinfo");
    resolve(lib, api.easy_reset, "curl_easy_reset");
    resolve(lib, api.easy_cleanup, "curl_easy_cleanup");
    resolve(lib, api.easy_strerror, "curl_easy_strerror");
    resolve(lib, api.slist_append, "curl_slist_append");
    resolve(lib, api.slist_free_all, "curl_slist_free_all");
    if (api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        throw Error(Errc::internal, "libcurl failed to initialise");
    return api; // the library stays loaded for the life of the process
}

} // namespace

const CurlApi& curl() {
    static std::once_flag once;
    static CurlApi api;
    static std::exception_ptr failed;
    std::call_once(once, [] {
        try {
            api = load();
        } catch (...) {
            failed = std::current_exception();
        }
    });
    if (failed) std::rethrow_exception(failed);
    return api;
}

} // namespace gantry::registry
