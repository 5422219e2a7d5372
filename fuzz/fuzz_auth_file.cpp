// Fuzzes docker/podman auth files (registry/auth): the input is written as an --authfile and
// credentials are looked up for a few registries, as pull/push/login read ~/.docker/config.json
// and ${XDG_RUNTIME_DIR}/containers/auth.json. PATH is emptied first so that credHelpers /
// credsStore entries name programs that do not exist (no process is started).
#include "fuzz_support.hpp"
#include "registry/auth.hpp"

#include <cstdlib>

using namespace gantry;

GANTRY_FUZZ_INIT(auth_file) {
    ::setenv("PATH", "/nonexistent-gantry-fuzz", 1);
}

GANTRY_FUZZ_TARGET(auth_file) {
    std::string file = fuzz::write_scratch_file("auth.json", fuzz::bytes(data, size));
    for (const char* domain : {"docker.io", "registry.example.com:5000", "localhost", "[::1]:5000"})
        fuzz::expect_error([&] {
            if (auto c = registry::find_credentials(domain, file)) FUZZ_CHECK(!c->source.empty());
        });
    return 0;
}
