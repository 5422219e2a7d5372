// Fuzzes the ld.so.cache reader (gpu_host/ldcache): the old, new and compat formats, as discovery
// reads the host's and an image's /etc/ld.so.cache. Every entry must have a key and a value.
#include "fuzz_support.hpp"
#include "gpu_host/ldcache.hpp"

using namespace gantry;

GANTRY_FUZZ_TARGET(ldcache) {
    fuzz::expect_error([&] {
        auto cache = gpu_host::ldcache::parse(fuzz::bytes(data, size));
        for (auto& e : cache.entries) {
            FUZZ_CHECK(e.key.size() <= size && e.value.size() <= size);
            (void)gpu_host::ldcache::describe(e);
            (void)gpu_host::ldcache::is_native(e);
            (void)gpu_host::ldcache::is_lib32(e);
        }
    });
    return 0;
}
