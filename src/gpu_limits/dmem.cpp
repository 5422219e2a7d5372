#include "gpu_limits/dmem.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <charconv>

namespace gantry::gpu_limits {

std::vector<DmemRegion> parse_dmem_capacity(const std::string& text) {
    std::vector<DmemRegion> out;
    for (std::string_view line : text::split(text, '\n')) {
        auto words = text::words(line);
        if (words.size() != 2) continue;
        std::uint64_t bytes = 0;
        auto [end, ec] = std::from_chars(words[1].data(), words[1].data() + words[1].size(), bytes);
        if (ec != std::errc{} || end != words[1].data() + words[1].size()) continue;
        out.push_back({std::string(words[0]), bytes});
    }
    return out;
}

std::vector<DmemRegion> read_dmem_capacity(const std::string& cgroup_top) {
    if (cgroup_top.empty()) return {};
    std::string text;
    try {
        text = fs::read_file(cgroup_top + "/dmem.capacity");
    } catch (const Error&) {
        return {};
    }
    return parse_dmem_capacity(text);
}

std::optional<DmemRegion> dmem_region_of(const std::vector<DmemRegion>& regions,
                                         const std::string& pci_function, const std::string& ask) {
    std::vector<const DmemRegion*> found;
    for (const auto& r : regions) {
        auto parts = text::split(r.name, '/');
        if (parts.size() >= 3 && parts[1] == pci_function) found.push_back(&r);
    }
    if (found.empty()) return std::nullopt;
    if (found.size() > 1) {
        std::vector<std::string> names;
        for (auto* r : found) names.push_back(r->name);
        throw Error(Errc::run_failed,
                    ask + ": GPU " + pci_function + " has " + std::to_string(found.size()) +
                        " device memory regions (" + text::join_english(names) +
                        "): one size cannot be split between them",
                    "give the container a GPU with one memory region, or drop " + ask);
    }
    return *found.front();
}

std::string dmem_limit_lines(const std::vector<std::pair<DmemRegion, std::uint64_t>>& limits) {
    std::string out;
    for (const auto& [region, bytes] : limits)
        out += (out.empty() ? "" : "\n") + region.name + " " + std::to_string(bytes);
    return out;
}

} // namespace gantry::gpu_limits
