#include "gpu_vendors/intel/request.hpp"

#include "gpu_host/gpus_flag.hpp"
#include "gpu_vendors/gpu_request.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <algorithm>

namespace gantry::gpu_vendors::intel {

GpuRequest parse_request(const std::optional<std::string>& gpus) {
    GpuRequest r;
    if (!gpus) return r;
    auto f = read_gpus_flag(*gpus, "intel", "Intel's",
                            [](const std::string& item, std::vector<std::string>& out) {
                                for (auto& t : gpu_host::split_list(item)) out.push_back(t);
                            });
    r.all = f.all;
    r.devices = std::move(f.devices);
    r.inject = f.inject;
    return r;
}

Selection select(const Host& host, const GpuRequest& req) {
    Selection s;
    if (!req.inject) return s;
    s.gpus = select_gpus(
        host.gpus, req.all, req.devices,
        [](const std::string& tok, const Gpu& g) {
            std::string t = text::lower(tok);
            return t == std::to_string(g.index) || t == g.card_name || t == g.pci_bus_id;
        },
        [](const Gpu& g) {
            return std::to_string(g.index) + " (" + g.card_name + ", " + g.pci_bus_id + ")";
        },
        "--gpus: unknown Intel GPU",
        "use an index, a card name (card1) or a PCI address (`gantry doctor --gpu-vendor intel` "
        "lists them)");
    return s;
}

} // namespace gantry::gpu_vendors::intel
