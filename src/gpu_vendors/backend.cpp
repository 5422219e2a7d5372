// What every vendor's backend shares: the Backend interface's defaults, the run policy for the
// doctor's findings, reading a variable from a container's environment.
#include "gpu_vendors/backend.hpp"

#include "util/error.hpp"
#include "util/log.hpp"

namespace gantry::gpu_vendors {

std::optional<findings::Finding>
Backend::image_without_host(const store::Store&, const store::Image&, const Roots&) const {
    return std::nullopt;
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

} // namespace gantry::gpu_vendors
