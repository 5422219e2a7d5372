#include "gpu_vendors/intel/request.hpp"

#include "gpu_host/gpus_flag.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <algorithm>

namespace gantry::gpu_vendors::intel {

GpuRequest parse_request(const std::optional<std::string>& gpus) {
    GpuRequest r;
    if (!gpus) return r;
    gpu_host::GpusFlag f = gpu_host::parse_gpus_flag(*gpus);
    if (f.driver && *f.driver != "intel")
        throw Error(Errc::unsupported,
                    "--gpus driver=" + *f.driver + ": not Intel's GPUs, which this run injects",
                    "use --gpus driver=intel, or leave driver= out");
    r.all = f.inject && f.all;
    if (!r.all && f.inject)
        for (auto& d : f.devices)
            for (auto& t : gpu_host::split_list(d)) r.devices.push_back(t);
    r.inject = r.all || !r.devices.empty();
    return r;
}

Selection select(const Host& host, const GpuRequest& req) {
    Selection s;
    if (!req.inject) return s;
    auto add_gpu = [&s](const Gpu* g) {
        if (std::find(s.gpus.begin(), s.gpus.end(), g) == s.gpus.end()) s.gpus.push_back(g);
    };
    if (req.all) {
        for (auto& g : host.gpus) add_gpu(&g);
        return s;
    }
    for (auto& tok : req.devices) {
        const Gpu* found = nullptr;
        std::string t = text::lower(tok);
        for (auto& g : host.gpus)
            if (t == std::to_string(g.index) || t == g.card_name || t == g.pci_bus_id) {
                found = &g;
                break;
            }
        if (!found) {
            std::string known;
            for (auto& g : host.gpus)
                known += (known.empty() ? "" : ", ") + std::to_string(g.index) + " (" +
                         g.card_name + ", " + g.pci_bus_id + ")";
            throw Error(Errc::not_found,
                        "--gpus: unknown Intel GPU \"" + tok + "\"; this host has " +
                            (known.empty() ? std::string("none") : known),
                        "use an index, a card name (card1) or a PCI address (`gantry doctor "
                        "--gpu-vendor intel` lists them)");
        }
        add_gpu(found);
    }
    return s;
}

} // namespace gantry::gpu_vendors::intel
