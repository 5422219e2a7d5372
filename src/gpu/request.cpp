#include "gpu/request.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

#include <algorithm>

namespace gantry::gpu {

namespace {

// Blanks and the quotes of a value written as "compute,utility" or 'all'.
constexpr std::string_view kBlanksAndQuotes = " \t\"'";

// The items of a comma-separated list, blanks and quotes trimmed, empty ones dropped.
std::vector<std::string> split_list(std::string_view s) {
    std::vector<std::string> out;
    for (std::string_view item : text::split(s, ','))
        if (auto t = text::trim(item, kBlanksAndQuotes); !t.empty()) out.emplace_back(t);
    return out;
}

std::optional<std::string> env_get(const std::vector<std::string>& env, const std::string& key) {
    std::optional<std::string> v;
    for (auto& e : env)
        if (e.starts_with(key + "=")) v = e.substr(key.size() + 1);
    return v;
}

Capabilities parse_caps(const std::string& value, const std::string& what) {
    Capabilities caps;
    for (auto& t : split_list(value)) {
        if (t == "all") return all_capabilities();
        auto c = capability_from_string(t);
        if (!c)
            throw Error(
                Errc::usage, what + ": unsupported driver capability \"" + t + "\"",
                "use a comma-separated list of compute, compat32, graphics, utility, video, "
                "display, ngx, or all");
        caps.insert(*c);
    }
    return caps;
}

void set_devices(Request& r, const std::string& value) {
    auto toks = split_list(value);
    if (toks.empty() || std::find(toks.begin(), toks.end(), "void") != toks.end()) {
        r.inject = false; // "" and "void": nothing injected
        return;
    }
    r.inject = true;
    if (std::find(toks.begin(), toks.end(), "all") != toks.end()) {
        r.all = true;
        return;
    }
    if (toks.size() == 1 && toks[0] == "none") return; // driver without devices
    for (auto& t : toks)
        if (t != "none") r.devices.push_back(t);
}

// --gpus N and count=N: the first N GPUs. No host has thousands: a larger N is a typo, and
// must not make gantry build billions of names (or overflow an int).
void first_gpus(Request& r, const std::string& n) {
    constexpr std::uint32_t kMax = 1024;
    auto count = text::to_u32(n);
    if (!count || *count > kMax)
        throw Error(Errc::usage, "--gpus: " + n + " GPUs is more than a host has",
                    "give at most " + std::to_string(kMax) + ", or all");
    for (std::uint32_t i = 0; i < *count; ++i) r.devices.push_back(std::to_string(i));
}

} // namespace

std::optional<bool> parse_bool(const std::string& s) {
    if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") return true;
    if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False")
        return false;
    return std::nullopt;
}

Request parse_request(const std::vector<std::string>& env, const std::optional<std::string>& gpus) {
    Request r;
    bool legacy = env_get(env, "CUDA_VERSION").has_value() &&
                  !env_get(env, "NVIDIA_REQUIRE_CUDA").has_value();
    std::optional<Capabilities> flag_caps;
    if (gpus) {
        r.source = "--gpus";
        // docker: all | N | device=LIST | count=N | capabilities=LIST, comma-separated keys
        std::string v(text::trim(*gpus, kBlanksAndQuotes));
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
                r.inject = r.all = true;
                any_devices = true;
            } else if (text::all_digits(p)) {
                r.inject = true;
                any_devices = true;
                first_gpus(r, p);
            } else if (p.starts_with("device=")) {
                set_devices(r, p.substr(7));
                any_devices = true;
            } else if (p.starts_with("count=")) {
                std::string n = p.substr(6);
                r.inject = true;
                any_devices = true;
                if (n == "all")
                    r.all = true;
                else if (text::all_digits(n))
                    first_gpus(r, n);
                else
                    throw Error(Errc::usage, "--gpus: invalid count \"" + n + "\"",
                                "use count=N or count=all");
            } else if (p.starts_with("capabilities=")) {
                flag_caps = parse_caps(p.substr(13), "--gpus");
            } else if (p.starts_with("driver=")) {
                if (p.substr(7) != "nvidia")
                    throw Error(Errc::unsupported, "--gpus: only the nvidia driver is supported");
            } else if (p.starts_with("GPU-") || p.starts_with("MIG-")) {
                set_devices(r, p);
                any_devices = true;
            } else {
                throw Error(
                    Errc::usage, "--gpus: cannot parse \"" + p + "\"",
                    "use all, a count, device=0,2, a GPU-/MIG- UUID, or count=N,capabilities=...");
            }
        }
        if (!any_devices) r.inject = r.all = true; // capabilities=... alone means all GPUs
    } else if (auto v = env_get(env, "NVIDIA_VISIBLE_DEVICES")) {
        r.source = "NVIDIA_VISIBLE_DEVICES";
        set_devices(r, *v);
    } else if (legacy) {
        r.source = "CUDA_VERSION (legacy image)";
        r.inject = r.all = true;
    }
    auto cv = env_get(env, "NVIDIA_DRIVER_CAPABILITIES");
    if (flag_caps)
        r.caps = *flag_caps;
    else if (cv && !text::trim(*cv, kBlanksAndQuotes).empty())
        r.caps = parse_caps(*cv, "NVIDIA_DRIVER_CAPABILITIES");
    else if (legacy && !cv)
        r.caps = all_capabilities();
    else
        r.caps = {Capability::utility, Capability::compute};

    for (auto& e : env) {
        auto eq = e.find('=');
        std::string k = e.substr(0, eq);
        if (k.starts_with("NVIDIA_REQUIRE_") && k != "NVIDIA_REQUIRE_JETPACK") {
            auto it = std::find_if(r.requirements.begin(), r.requirements.end(),
                                   [&](auto& p) { return p.first == k; });
            if (it != r.requirements.end())
                it->second = e.substr(eq + 1);
            else
                r.requirements.emplace_back(k, e.substr(eq + 1));
        }
    }
    if (legacy) {
        std::string cv2 = *env_get(env, "CUDA_VERSION");
        auto d1 = cv2.find('.');
        auto d2 = d1 == std::string::npos ? std::string::npos : cv2.find('.', d1 + 1);
        r.requirements.emplace_back("CUDA_VERSION", "cuda>=" + cv2.substr(0, d2));
    }
    if (auto d = env_get(env, "NVIDIA_DISABLE_REQUIRE"))
        r.disable_require = parse_bool(*d).value_or(false);
    return r;
}

Selection select(const Host& host, const Request& req) {
    Selection s;
    auto add_gpu = [&](const Device* d) {
        if (std::find(s.gpus.begin(), s.gpus.end(), d) == s.gpus.end()) s.gpus.push_back(d);
    };
    if (!req.inject) return s;
    if (req.all) {
        for (auto& d : host.devices) {
            add_gpu(&d);
            for (auto& m : d.migs) s.migs.push_back(&m);
        }
        s.whole_gpu_requested = !host.devices.empty();
        return s;
    }
    auto known = [&] {
        std::string k;
        for (auto& d : host.devices) {
            k += (k.empty() ? "" : ", ") + std::to_string(d.index) + " (" + d.uuid + ")";
            for (size_t i = 0; i < d.migs.size(); ++i)
                k += ", " + std::to_string(d.index) + ":" + std::to_string(i) + " (" +
                     d.migs[i].uuid + ")";
        }
        return k.empty() ? std::string("none") : k;
    };
    for (auto& tok : req.devices) {
        bool found = false;
        for (auto& d : host.devices) {
            std::string bus = text::lower(d.pci_bus_id);
            std::string t = text::lower(tok);
            bool bus_match = !bus.empty() && (t == bus || (bus.size() > 4 && t == bus.substr(4)) ||
                                              (bus.size() > 9 && t == bus.substr(9)));
            if (tok == std::to_string(d.index) || text::lower(d.uuid) == t || bus_match) {
                add_gpu(&d);
                s.whole_gpu_requested = true;
                found = true;
                break;
            }
            for (size_t i = 0; i < d.migs.size() && !found; ++i) {
                if (tok == std::to_string(d.index) + ":" + std::to_string(i) ||
                    text::lower(d.migs[i].uuid) == t) {
                    add_gpu(&d);
                    s.migs.push_back(&d.migs[i]);
                    found = true;
                }
            }
            if (found) break;
        }
        if (!found)
            throw Error(Errc::not_found,
                        req.source + ": unknown GPU \"" + tok + "\"; this host has " + known(),
                        "use an index, a GPU-/MIG- UUID or i:j for a MIG device (`gantry doctor` "
                        "lists them)");
    }
    return s;
}

} // namespace gantry::gpu
