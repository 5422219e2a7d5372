#include "gpu_vendors/amd/cu_mask.hpp"

#include "gpu_host/device_node.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <map>

namespace gantry::gpu_vendors::amd {

namespace {

std::string range(unsigned first, unsigned last) {
    return first == last ? std::to_string(first)
                         : std::to_string(first) + "-" + std::to_string(last);
}

} // namespace

unsigned compute_units(const std::string& sys_root, const Gpu& g) {
    const std::string file = gpu_host::join_root(
        sys_root, "/sys/class/kfd/kfd/topology/nodes/" + std::to_string(g.node) + "/properties");
    std::string text;
    try {
        text = fs::read_file(file);
    } catch (const Error& e) {
        throw Error(Errc::run_failed,
                    "cannot read GPU " + g.pci_bus_id + "'s compute units: " + e.message());
    }
    const auto props = parse_properties(text, file);
    auto simd = props.find("simd_count"), per_cu = props.find("simd_per_cu");
    if (simd == props.end() || per_cu == props.end() || per_cu->second == 0 ||
        simd->second / per_cu->second == 0 || simd->second / per_cu->second > 65536)
        throw Error(Errc::run_failed,
                    file + " gives no number of compute units (simd_count / simd_per_cu)",
                    "check --sys-root");
    return static_cast<unsigned>(simd->second / per_cu->second);
}

std::string hsa_cu_mask(const std::vector<unsigned>& cu_counts, unsigned percent) {
    // each GPU's CUs given, GPUs with the same number of them together
    std::map<unsigned, std::vector<unsigned>> by_given; // CUs given -> GPU indices
    for (unsigned i = 0; i < cu_counts.size(); ++i) {
        unsigned given =
            static_cast<unsigned>(static_cast<unsigned long long>(cu_counts[i]) * percent / 100);
        by_given[given == 0 ? 1 : given].push_back(i);
    }
    std::string out;
    for (const auto& [given, gpus] : by_given) {
        std::string list;
        for (std::size_t k = 0; k < gpus.size();) {
            std::size_t j = k;
            while (j + 1 < gpus.size() && gpus[j + 1] == gpus[j] + 1) ++j;
            list += (list.empty() ? "" : ",") + range(gpus[k], gpus[j]);
            k = j + 1;
        }
        out += (out.empty() ? "" : "; ") + list + ":" + range(0, given - 1);
    }
    return out;
}

} // namespace gantry::gpu_vendors::amd
