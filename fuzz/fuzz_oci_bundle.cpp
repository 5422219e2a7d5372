// Fuzzes a bundle's config.json as `gantry oci create` reads it before it makes anything
// (ocirt/lifecycle.cpp create_container): JSON, oci::RuntimeSpec::from_json (with
// process.scheduler, ioPriority and linux.memoryPolicy's node list; a JSON type error
// is a refusal: create turns it into Error(invalid)), oci::check_runtime_spec, linux.seccomp's
// parse (its compile has fuzz_seccomp_spec) and linux.resources (fuzz_linux_resources). A spec
// that passes must keep every sysctl inside /proc/sys (the file runtime/kernel_settings writes)
// and have an absolute working directory.
#include "fuzz_support.hpp"
#include "oci/linux_resources.hpp"
#include "oci/runtime_spec.hpp"
#include "oci/seccomp_spec.hpp"
#include "oci/spec_checks.hpp"

#include <nlohmann/json.hpp>

using namespace gantry;

GANTRY_FUZZ_TARGET(oci_bundle) {
    nlohmann::json config = nlohmann::json::parse(fuzz::bytes(data, size), nullptr, false);
    if (config.is_discarded()) return 0; // create: "is not valid JSON", exit 4
    fuzz::expect_error([&] {
        oci::RuntimeSpec spec;
        try {
            spec = oci::RuntimeSpec::from_json(config);
        } catch (const nlohmann::json::exception&) {
            return; // "the bundle's config.json is not a runtime spec"
        }
        oci::check_runtime_spec(spec);
        FUZZ_CHECK(!spec.cwd.empty() && spec.cwd.front() == '/');
        // a node list set_mempolicy reads: no node above kMaxNumaNode, so at most 16 words
        if (spec.memory_policy)
            FUZZ_CHECK(spec.memory_policy->node_mask.size() * sizeof(unsigned long) * 8 <=
                       oci::kMaxNumaNode + 1);
        if (spec.scheduler) FUZZ_CHECK(spec.scheduler->nice >= -20 && spec.scheduler->nice <= 19);
        if (spec.io_priority)
            FUZZ_CHECK(spec.io_priority->priority >= 0 && spec.io_priority->priority <= 7);
        for (auto& [key, value] : spec.sysctl) {
            std::string path = oci::sysctl_path(key);
            FUZZ_CHECK(!path.empty() && path.front() != '/');
            for (std::size_t at = 0; at <= path.size();) {
                auto end = path.find('/', at);
                if (end == std::string::npos) end = path.size();
                std::string_view part(path.data() + at, end - at);
                FUZZ_CHECK(!part.empty() && part != "." && part != "..");
                at = end + 1;
            }
        }
        if (config.is_object() && config.contains("linux") && config["linux"].is_object()) {
            const auto& lx = config["linux"];
            if (lx.contains("seccomp")) (void)oci::SeccompSpec::from_json(lx["seccomp"]);
            if (lx.contains("resources") && lx["resources"].is_object())
                (void)oci::LinuxResources::from_json(lx["resources"]);
        }
    });
    return 0;
}
