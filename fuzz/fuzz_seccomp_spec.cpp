// Fuzzes a bundle's linux.seccomp as `gantry oci create` reads it (oci/seccomp_spec) and compiles
// it with libseccomp (seccomp/seccomp_compile_spec): hostile names, indexes, values and sizes.
// A profile that parses must compile (libseccomp refusing it is a std::runtime_error, an
// expected refusal too) into a non-empty program. The filter is never loaded into the fuzzer.
#include "fuzz_support.hpp"
#include "oci/seccomp_spec.hpp"
#include "seccomp/seccomp_linked.hpp"

#include <nlohmann/json.hpp>
#include <seccomp.h>
#include <stdexcept>

using namespace gantry;

GANTRY_FUZZ_TARGET(seccomp_spec) {
    static const seccomp::SeccompApi api = seccomp::linked_seccomp_api();
    nlohmann::json j = nlohmann::json::parse(fuzz::bytes(data, size), nullptr, false);
    if (j.is_discarded()) return 0;
    fuzz::expect_error([&] {
        auto spec = oci::SeccompSpec::from_json(j);
        if (!spec) return;
        for (auto& r : spec->rules) FUZZ_CHECK(!r.name.empty() && r.args.size() <= 6);
        if (spec->rules.size() > 2000) return; // libseccomp's time, not the parser's
        try {
            auto prog = seccomp::compile_seccomp_spec(api, *spec);
            FUZZ_CHECK(!prog.empty());
        } catch (const std::runtime_error&) {
        }
    });
    return 0;
}
