#include "gpu_vendors/nvidia/request.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

#include <algorithm>

namespace gantry::gpu_vendors::nvidia {

namespace {

std::optional<std::string> env_get(const std::vector<std::string>& env, const std::string& key) {
    std::optional<std::string> v;
    for (auto& e : env)
        if (e.starts_with(key + "=")) v = e.substr(key.size() + 1);
    return v;
}

// A capability list's words ("all" stands for every capability) as NVIDIA's Capabilities.
Capabilities caps_of(const std::vector<std::string>& words, const std::string& what) {
    Capabilities caps;
    for (auto& t : words) {
        if (t == "all") return all_capabilities();
        auto c = capability_from_string(t);
        if (!c) gpu_host::throw_unknown_capability(what, t);
        caps.insert(*c);
    }
    return caps;
}

void take_devices(GpuRequest& r, const gpu_host::GpusFlag& f) {
    r.inject = f.inject;
    r.all = f.all;
    r.devices = f.devices;
}

} // namespace

std::optional<bool> parse_bool(const std::string& s) {
    if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") return true;
    if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False")
        return false;
    return std::nullopt;
}

GpuRequest parse_request(const std::vector<std::string>& env,
                         const std::optional<std::string>& gpus) {
    GpuRequest r;
    bool legacy = env_get(env, "CUDA_VERSION").has_value() &&
                  !env_get(env, "NVIDIA_REQUIRE_CUDA").has_value();
    std::optional<Capabilities> flag_caps;
    if (gpus) {
        r.source = "--gpus";
        gpu_host::GpusFlag f = gpu_host::parse_gpus_flag(*gpus);
        if (f.driver && *f.driver != "nvidia")
            throw Error(Errc::unsupported,
                        "--gpus driver=" + *f.driver +
                            ": not NVIDIA's GPUs, which this run injects",
                        "use --gpus driver=nvidia, or leave driver= out");
        take_devices(r, f);
        if (f.capabilities) flag_caps = caps_of(*f.capabilities, "--gpus");
    } else if (auto v = env_get(env, "NVIDIA_VISIBLE_DEVICES")) {
        r.source = "NVIDIA_VISIBLE_DEVICES";
        gpu_host::GpusFlag f;
        gpu_host::set_device_list(f, *v);
        take_devices(r, f);
    } else if (legacy) {
        r.source = "CUDA_VERSION (legacy image)";
        r.inject = r.all = true;
    }
    auto cv = env_get(env, "NVIDIA_DRIVER_CAPABILITIES");
    if (flag_caps)
        r.caps = *flag_caps;
    else if (cv && !text::trim(*cv, gpu_host::kBlanksAndQuotes).empty())
        r.caps = caps_of(gpu_host::split_list(*cv), "NVIDIA_DRIVER_CAPABILITIES");
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

Selection select(const Host& host, const GpuRequest& req) {
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

Selection select_wsl(const Host& host, const GpuRequest& req, std::string* why) {
    GpuRequest all = req;
    if (req.inject && !req.all && !req.devices.empty()) {
        all.all = true;
        if (why)
            *why = req.source + " names GPU " + text::join(req.devices, ", ") +
                   ", but on WSL2 a container cannot get some GPUs and not others (one /dev/dxg, "
                   "no MIG): it gets every GPU; CUDA_VISIBLE_DEVICES narrows what a process uses";
    }
    return select(host, all);
}

} // namespace gantry::gpu_vendors::nvidia
