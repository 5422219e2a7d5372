#include "gpu_vendors/gpu_request.hpp"

#include "gpu_host/gpus_flag.hpp"

namespace gantry::gpu_vendors {

GpusFlagRequest read_gpus_flag(
    const std::string& gpus, std::string_view driver, std::string_view whose,
    const std::function<void(const std::string& item, std::vector<std::string>& out)>& split) {
    GpusFlagRequest r;
    gpu_host::GpusFlag f = gpu_host::parse_gpus_flag(gpus);
    if (f.driver && *f.driver != driver)
        throw Error(Errc::unsupported,
                    "--gpus driver=" + *f.driver + ": not " + std::string(whose) +
                        " GPUs, which this run injects",
                    "use --gpus driver=" + std::string(driver) + ", or leave driver= out");
    r.all = f.inject && f.all;
    if (!r.all && f.inject)
        for (auto& d : f.devices) split(d, r.devices);
    r.inject = r.all || !r.devices.empty();
    return r;
}

} // namespace gantry::gpu_vendors
