#include "gpu_host/gpus_flag.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

namespace gantry::gpu_host {

namespace {

// --gpus N and count=N: the first N GPUs. No host has thousands: a larger N is a typo, and
// must not make gantry build billions of names (or overflow an int).
void first_gpus(GpusFlag& f, const std::string& n) {
    constexpr std::uint32_t kMax = 1024;
    auto count = text::to_u32(n);
    if (!count || *count > kMax)
        throw Error(Errc::usage, "--gpus: " + n + " GPUs is more than a host has",
                    "give at most " + std::to_string(kMax) + ", or all");
    for (std::uint32_t i = 0; i < *count; ++i) f.devices.push_back(std::to_string(i));
}

// capabilities=LIST: the words, each checked (up to an "all", which stands for every one).
std::vector<std::string> capability_words(const std::string& value) {
    auto words = split_list(value);
    for (auto& w : words) {
        if (w == "all") break;
        if (!is_capability_name(w)) throw_unknown_capability("--gpus", w);
    }
    return words;
}

} // namespace

std::vector<std::string> split_list(std::string_view s) {
    std::vector<std::string> out;
    for (std::string_view item : text::split(s, ','))
        if (auto t = text::trim(item, kBlanksAndQuotes); !t.empty()) out.emplace_back(t);
    return out;
}

bool is_capability_name(const std::string& word) {
    static constexpr std::array<std::string_view, 7> names{
        "compute", "utility", "video", "graphics", "display", "ngx", "compat32"};
    return std::find(names.begin(), names.end(), word) != names.end();
}

void throw_unknown_capability(const std::string& what, const std::string& word) {
    throw Error(Errc::usage, what + ": unsupported driver capability \"" + word + "\"",
                "use a comma-separated list of compute, compat32, graphics, utility, video, "
                "display, ngx, or all");
}

void set_device_list(GpusFlag& f, const std::string& value) {
    auto toks = split_list(value);
    if (toks.empty() || std::find(toks.begin(), toks.end(), "void") != toks.end()) {
        f.inject = false; // "" and "void": nothing injected
        return;
    }
    f.inject = true;
    if (std::find(toks.begin(), toks.end(), "all") != toks.end()) {
        f.all = true;
        return;
    }
    if (toks.size() == 1 && toks[0] == "none") return; // driver without devices
    for (auto& t : toks)
        if (t != "none") f.devices.push_back(t);
}

GpusFlag parse_gpus_flag(const std::string& value) {
    GpusFlag f;
    // docker: all | N | device=LIST | count=N | capabilities=LIST, comma-separated keys
    std::string v(text::trim(value, kBlanksAndQuotes));
    std::vector<std::string> parts;
    // "device=0,2" keeps its commas: split on keys instead
    size_t pos = 0;
    while (pos < v.size()) {
        size_t next = std::string::npos;
        for (const char* key : {",device=", ",count=", ",capabilities=", ",driver="}) {
            size_t k = v.find(key, pos + 1);
            if (k != std::string::npos && k < next) next = k;
        }
        parts.emplace_back(
            text::trim(std::string_view(v).substr(pos, next == v.npos ? v.npos : next - pos),
                       kBlanksAndQuotes));
        if (next == std::string::npos) break;
        pos = next + 1;
    }
    bool any_devices = false;
    for (auto& p : parts) {
        if (p == "all") {
            f.inject = f.all = true;
            any_devices = true;
        } else if (text::all_digits(p)) {
            f.inject = true;
            any_devices = true;
            first_gpus(f, p);
        } else if (p.starts_with("device=")) {
            set_device_list(f, p.substr(7));
            any_devices = true;
        } else if (p.starts_with("count=")) {
            std::string n = p.substr(6);
            f.inject = true;
            any_devices = true;
            if (n == "all")
                f.all = true;
            else if (text::all_digits(n))
                first_gpus(f, n);
            else
                throw Error(Errc::usage, "--gpus: invalid count \"" + n + "\"",
                            "use count=N or count=all");
        } else if (p.starts_with("capabilities=")) {
            f.capabilities = capability_words(p.substr(13));
        } else if (p.starts_with("driver=")) {
            f.driver = p.substr(7);
            if (f.driver->empty())
                throw Error(Errc::usage, "--gpus: driver= names no driver",
                            "name the GPU vendor, e.g. driver=nvidia");
        } else if (p.starts_with("GPU-") || p.starts_with("MIG-")) {
            set_device_list(f, p);
            any_devices = true;
        } else {
            throw Error(
                Errc::usage, "--gpus: cannot parse \"" + p + "\"",
                "use all, a count, device=0,2, a GPU-/MIG- UUID, or count=N,capabilities=...");
        }
    }
    if (!any_devices) f.inject = f.all = true; // capabilities=... alone means all GPUs
    return f;
}

} // namespace gantry::gpu_host
