// Fuzzes the AMD KFD topology properties parser (gpu_vendors/amd/topology parse_properties): the
// "name value" files under /sys/class/kfd/kfd/topology/nodes/N/, which a container host or a
// hostile sysfs (a bind-mounted fake) supplies, and the gfx name each gfx_target_version gives.
#include "fuzz_support.hpp"
#include "gpu_vendors/amd/topology.hpp"

using namespace gantry;

GANTRY_FUZZ_TARGET(kfd_properties) {
    fuzz::expect_error([&] {
        auto props = gpu_vendors::amd::parse_properties(fuzz::bytes(data, size), "properties");
        for (auto& [name, value] : props) {
            FUZZ_CHECK(!name.empty());
            if (auto g = gpu_vendors::amd::gfx_name(value)) FUZZ_CHECK(g->starts_with("gfx"));
        }
    });
    return 0;
}
