// libcurl, loaded with dlopen("libcurl.so.4") on first use: linking it would add OpenSSL,
// nghttp2, LDAP, ... to the start-up of every gantry command (`gantry run` is timed).
#pragma once

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

namespace gantry::registry {

struct CurlApi {
    decltype(&::curl_global_init) global_init = nullptr;
    decltype(&::curl_easy_init) easy_init = nullptr;
    decltype(&::curl_easy_setopt) easy_setopt = nullptr;
    decltype(&::curl_easy_perform) easy_perform = nullptr;
    decltype(&::curl_easy_getinfo) easy_getinfo = nullptr;
    decltype(&::curl_easy_reset) easy_reset = nullptr;
    decltype(&::curl_easy_cleanup) easy_cleanup = nullptr;
    decltype(&::curl_easy_strerror) easy_strerror = nullptr;
    decltype(&::curl_slist_append) slist_append = nullptr;
    decltype(&::curl_slist_free_all) slist_free_all = nullptr;
};

// The loaded library (thread-safe, loaded once). Throws Error(unsupported) naming the package
// when libcurl.so.4 or one of its symbols is missing.
const CurlApi& curl();

} // namespace gantry::registry
