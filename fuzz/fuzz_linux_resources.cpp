// Fuzzes a bundle's linux.resources as `gantry oci create` and `update --resources` read it
// (oci/linux_resources) and the cgroup writes it becomes (runtime/cgroup_writes) on v1 and v2:
// hostile types, ranges, names and sizes. What parses must turn into writes (or a refusal, an
// Error) whose file names stay inside the cgroup directory.
#include "fuzz_support.hpp"
#include "oci/linux_resources.hpp"
#include "runtime/cgroup_writes.hpp"

#include <nlohmann/json.hpp>

using namespace gantry;

GANTRY_FUZZ_TARGET(linux_resources) {
    nlohmann::json j = nlohmann::json::parse(fuzz::bytes(data, size), nullptr, false);
    if (j.is_discarded()) return 0;
    fuzz::expect_error([&] {
        auto r = oci::LinuxResources::from_json(j);
        for (auto v : {runtime::CgroupVersion::v1, runtime::CgroupVersion::v2}) {
            fuzz::expect_error([&] {
                for (const auto& w : runtime::cgroup_writes(r, v)) {
                    FUZZ_CHECK(!w.file.empty() && w.file.find('/') == std::string::npos);
                    FUZZ_CHECK(w.file != "." && w.file != "..");
                }
            });
        }
        auto copy = r;
        copy.merge(r);
    });
    return 0;
}
