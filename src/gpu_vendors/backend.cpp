// What every vendor's backend shares: the Backend interface's defaults, the run policy for the
// doctor's findings, reading a variable from a container's environment.
#include "gpu_vendors/backend.hpp"

#include "util/error.hpp"
#include "util/log.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <string>

namespace gantry::gpu_vendors {

std::optional<findings::Finding>
Backend::image_without_host(const store::Store&, const store::Image&, const Roots&) const {
    return std::nullopt;
}

SharingClient Backend::sharing_client(const SharingRequest&) const {
    throw Error(Errc::internal, std::string(name()) + " has no GPU-sharing daemon");
}

std::vector<std::string> Backend::kernel_cache_facts(const Roots& roots, const std::string&) const {
    std::string targets;
    try {
        for (const auto& t : device_targets(roots)) targets += (targets.empty() ? "" : ",") + t;
    } catch (const Error& e) {
        log::debug("kernel cache key: " + e.message());
    }
    return {"targets=" + (targets.empty() ? std::string("unknown") : targets)};
}

void apply_policy(const std::vector<findings::Finding>& findings, const char* override_by,
                  std::string_view how_to_override) {
    for (auto& fd : findings) {
        if (fd.severity == findings::Severity::fail && !override_by)
            throw Error(Errc::run_failed, fd.message,
                        fd.fix + (fd.fix.empty() ? "" : "; ") + std::string(how_to_override));
        if (fd.severity == findings::Severity::fail)
            log::warn(fd.message + " (requirements not checked: " + override_by + ")");
        else if (fd.severity == findings::Severity::warn)
            log::warn(fd.message);
    }
}

std::optional<std::string> env_value(const std::vector<std::string>& env, std::string_view key) {
    std::optional<std::string> v;
    for (auto& e : env)
        if (e.size() > key.size() && e.starts_with(key) && e[key.size()] == '=')
            v = e.substr(key.size() + 1);
    return v;
}

std::string pci_function_name(std::string_view id) {
    // [domain:]bus:device.function, hex; the domain up to 8 digits (NVML's), 4 in sysfs' name
    auto hex = [](std::string_view s, size_t max) {
        if (s.empty() || s.size() > max) return false;
        return std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(c) != 0; });
    };
    auto colon = id.rfind(':');
    if (colon == std::string_view::npos) return {};
    auto dot = id.find('.', colon);
    std::string_view fn = dot == std::string_view::npos ? "" : id.substr(dot + 1);
    std::string_view dev = id.substr(colon + 1, dot - colon - 1);
    std::string_view head = id.substr(0, colon);
    auto c2 = head.rfind(':');
    std::string_view bus = c2 == std::string_view::npos ? head : head.substr(c2 + 1);
    std::string_view dom = c2 == std::string_view::npos ? "0" : head.substr(0, c2);
    if (!hex(dom, 8) || !hex(bus, 2) || !hex(dev, 2) || fn.size() != 1 || !hex(fn, 1)) return {};
    std::uint64_t d = std::stoull(std::string(dom), nullptr, 16);
    if (d > 0xffff) return {};
    char out[16];
    std::snprintf(out, sizeof out, "%04llx:%02x:%02x.%c", static_cast<unsigned long long>(d),
                  static_cast<unsigned>(std::stoul(std::string(bus), nullptr, 16)),
                  static_cast<unsigned>(std::stoul(std::string(dev), nullptr, 16)),
                  static_cast<char>(std::tolower(static_cast<unsigned char>(fn[0]))));
    return out;
}

void set_pci_functions(GpuPlan& plan, const std::vector<std::string>& ids) {
    plan.pci_functions.clear();
    for (const auto& id : ids)
        if (auto name = pci_function_name(id); !name.empty()) plan.pci_functions.push_back(name);
    std::sort(plan.pci_functions.begin(), plan.pci_functions.end());
    plan.pci_functions.erase(std::unique(plan.pci_functions.begin(), plan.pci_functions.end()),
                             plan.pci_functions.end());
}

} // namespace gantry::gpu_vendors
