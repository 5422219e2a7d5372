// gpu_vendors/gpu_request: what the vendors share in reading a container's GPU request: docker's
// --gpus flag for one vendor (gpu/gpus_flag.hpp's grammar, driver= naming it or left out), and
// the request's device tokens resolved to the host's GPUs. Each vendor keeps its own tokens (AMD:
// indices, ranges, unique ids, UUIDs; Intel: indices, card names, PCI addresses) and messages.
#pragma once

#include "util/error.hpp"

#include <algorithm>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::gpu_vendors {

struct GpusFlagRequest {
    bool inject = false;              // any GPU at all
    bool all = false;                 // every GPU of the host
    std::vector<std::string> devices; // the tokens, as SPLIT gives them
};

// --gpus GPUS for the vendor whose driver= word is DRIVER ("amd") and whose GPUs are WHOSE
// ("AMD's"): Error(unsupported) for another driver=; each device=LIST item goes through SPLIT,
// which appends its tokens (and throws Error(usage) for a malformed one).
GpusFlagRequest read_gpus_flag(
    const std::string& gpus, std::string_view driver, std::string_view whose,
    const std::function<void(const std::string& item, std::vector<std::string>& out)>& split);

// The GPUs of HOST_GPUS that ALL or TOKENS select, each once, in the order asked for (host order
// for all). MATCH(token, gpu) says whether a token names a GPU; a token that names none is
// Error(not_found): "UNKNOWN \"token\"; this host has " + every GPU's DESCRIBE(gpu) (or none),
// with HINT.
template <class Gpu, class Match, class Describe>
std::vector<const Gpu*>
select_gpus(const std::vector<Gpu>& host_gpus, bool all, const std::vector<std::string>& tokens,
            Match match, Describe describe, const std::string& unknown, const char* hint) {
    std::vector<const Gpu*> out;
    auto add = [&out](const Gpu* g) {
        if (std::find(out.begin(), out.end(), g) == out.end()) out.push_back(g);
    };
    if (all) {
        for (auto& g : host_gpus) add(&g);
        return out;
    }
    for (auto& tok : tokens) {
        const Gpu* found = nullptr;
        for (auto& g : host_gpus)
            if (match(tok, g)) {
                found = &g;
                break;
            }
        if (!found) {
            std::string known;
            for (auto& g : host_gpus) known += (known.empty() ? "" : ", ") + describe(g);
            throw Error(Errc::not_found,
                        unknown + " \"" + tok + "\"; this host has " +
                            (known.empty() ? std::string("none") : known),
                        hint);
        }
        add(found);
    }
    return out;
}

} // namespace gantry::gpu_vendors
