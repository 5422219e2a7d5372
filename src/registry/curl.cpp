#include "registry/curl.hpp"

#include "util/error.hpp"
#include "util/library.hpp"

#include <mutex>
#include <string>

namespace gantry::registry {

namespace {

CurlApi load() {
    Library lib("libcurl.so.4", "registry access needs libcurl",
                "install libcurl 7.80 or newer (Debian/Ubuntu: apt-get install libcurl4; Fedora: "
                "dnf install libcurl)");
    CurlApi api;
    lib.bind(api.global_init, "curl_global_init");
    lib.bind(api.easy_init, "curl_easy_init");
    lib.bind(api.easy_setopt, "curl_easy_setopt");
    lib.bind(api.easy_perform, "curl_easy_perform");
    lib.bind(api.easy_getinfo, "curl_easy_getinfo");
    lib.bind(api.easy_reset, "curl_easy_reset");
    lib.bind(api.easy_cleanup, "curl_easy_cleanup");
    lib.bind(api.easy_strerror, "curl_easy_strerror");
    lib.bind(api.slist_append, "curl_slist_append");
    lib.bind(api.slist_free_all, "curl_slist_free_all");
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
