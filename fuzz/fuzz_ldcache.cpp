// Fuzzes the ld.so.cache reader (gpu/ldcache): the old, new and compat formats, as discovery
// reads the host's and an image's /etc/ld.so.cache. Every entry must have a key and a value.
#include "fuzz_support.hpp"
#include "gpu/ldcache.hpp"

using namespace gantry;

GANTRY_FUZZ_TARGET(ldcache) {
    fuzz::expect_error([&] {
        auto cache = gpu::ldcache::parse(fuzz::bytes(data, size));
        for (auto& e : cache.entries) {
            FUZZ_CHECK(e.key.size() <= size && e.value.size() <= size);
            (void)gpu::ldcache::describe(e);
            (void)gpu::ldcache::is_native(e);
            (void)gpu::ldcache::is_lib32(e);
        }
    });
    return 0;
}
