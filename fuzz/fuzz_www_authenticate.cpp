// Fuzzes WWW-Authenticate challenge parsing (registry/auth): the header a registry (or anything
// answering in its place) sends with a 401. Malformed input gives an empty list, never an error.
#include "fuzz_support.hpp"
#include "registry/auth.hpp"

using namespace gantry;

GANTRY_FUZZ_TARGET(www_authenticate) {
    std::string header(fuzz::bytes(data, size));
    for (auto& c : registry::parse_challenges(header)) {
        FUZZ_CHECK(!c.scheme.empty());
        for (auto& [k, v] : c.params) FUZZ_CHECK(c.param(k) == v);
        (void)c.param("realm");
    }
    // base64 (the auth files' "auth" values) round trip
    if (auto plain = registry::base64_decode(header)) {
        auto again = registry::base64_decode(registry::base64_encode(*plain));
        FUZZ_CHECK(again && *again == *plain);
    }
    return 0;
}
