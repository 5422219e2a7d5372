#include "gpu_limits/share.hpp"

#include "util/error.hpp"
#include "util/text.hpp"
#include "util/units.hpp"

#include <charconv>

namespace gantry::gpu_limits {

namespace {

std::uint64_t size_of(const std::string& v, const std::string& flag) {
    auto bytes = units::parse_size(v, flag);
    if (bytes < 1024 * 1024)
        throw Error(Errc::usage, flag + ": a size of at least 1m is needed, not \"" + v + "\"",
                    "e.g. " + flag + " 8g, or per GPU " + flag + " 0=8g,1=4g");
    return bytes;
}

} // namespace

MemoryShare parse_memory_share(const std::string& value, const std::string& flag) {
    MemoryShare s;
    if (value.find('=') == std::string::npos) {
        s.every = size_of(value, flag);
        return s;
    }
    for (std::string_view view : text::split(value, ',')) {
        const std::string part(view);
        auto eq = part.find('=');
        unsigned index = 0;
        auto [end, ec] = std::from_chars(part.data(), part.data() + eq, index);
        if (eq == std::string::npos || eq == 0 || ec != std::errc{} || end != part.data() + eq)
            throw Error(Errc::usage,
                        flag + ": \"" + part + "\" is not GPU=SIZE (in \"" + value + "\")",
                        "give one size for every GPU (8g) or GPU=SIZE pairs (0=8g,1=4g), the "
                        "GPUs numbered as the container sees them");
        if (!s.per_gpu.emplace(index, size_of(part.substr(eq + 1), flag)).second)
            throw Error(Errc::usage, flag + ": GPU " + std::to_string(index) + " is given twice");
    }
    return s;
}

unsigned parse_compute_percent(const std::string& value, const std::string& name) {
    std::string v = value;
    if (!v.empty() && v.back() == '%') v.pop_back();
    unsigned p = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), p);
    if (v.empty() || ec != std::errc{} || end != v.data() + v.size() || p < 1 || p > 100)
        throw Error(Errc::usage, name + ": \"" + value + "\" is not a percentage from 1 to 100",
                    "e.g. 25 for a quarter of each GPU's compute");
    return p;
}

std::vector<std::optional<std::uint64_t>> per_gpu(const MemoryShare& share, std::size_t gpu_count,
                                                  const std::string& flag) {
    std::vector<std::optional<std::uint64_t>> out(gpu_count, share.every);
    for (const auto& [index, bytes] : share.per_gpu) {
        if (index >= gpu_count)
            throw Error(Errc::usage,
                        flag + ": the container has " + std::to_string(gpu_count) +
                            (gpu_count == 1 ? " GPU" : " GPUs") + " (0" +
                            (gpu_count > 1 ? "-" + std::to_string(gpu_count - 1) : "") +
                            "), not GPU " + std::to_string(index),
                        "number the GPUs as the container sees them: 0, 1, ... in PCI address "
                        "order of those --gpus selects");
        out[index] = bytes;
    }
    return out;
}

} // namespace gantry::gpu_limits
