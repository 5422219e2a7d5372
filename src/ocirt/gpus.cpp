#include "ocirt/gpus.hpp"

#include "cdi/registry.hpp"
#include "gpu_vendors/all/backends.hpp"
#include "records/state.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/identity.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <cctype>
#include <cstdlib>
#include <unistd.h>

namespace gantry::ocirt {
namespace {

std::string env_or(const char* name, const char* def) {
    const char* v = std::getenv(name);
    return v && *v ? v : def;
}

// The non-empty, trimmed items of a SEP-separated list.
std::vector<std::string> items(const std::string& s, char sep) {
    std::vector<std::string> out;
    for (auto item : text::split(s, sep))
        if (auto t = text::trim(item); !t.empty()) out.emplace_back(t);
    return out;
}

// The per-boot host cache's directory, where this caller has a runtime directory; none ("":
// discovery uncached) in rootless podman's user namespace, whose uid 0 cannot open the host's
// /run/gantry.
std::string host_cache_dir() {
    try {
        return records::runtime_dir().string();
    } catch (const Error&) {
        return {};
    }
}

} // namespace

std::string root_env_name(std::string_view flag) {
    std::string name = "GANTRY_";
    for (char c : flag.substr(flag.starts_with("--") ? 2 : 0))
        name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return name;
}

gpu_vendors::Roots requested_roots() {
    gpu_vendors::Roots roots;
    for (const gpu_vendors::RootFlag& f : gpu_vendors::host_root_flags())
        roots.of(f) = env_or(root_env_name(f.name).c_str(), "/");
    return roots;
}

std::vector<std::string> add_requested_gpus(oci::RuntimeSpec& spec,
                                            const gpu_vendors::Backend** backend) {
    std::vector<std::string> added;
    if (backend) *backend = nullptr;
    // CDI devices from annotations
    std::vector<std::string> names;
    for (const auto& [key, value] : spec.annotations)
        if (key.starts_with("cdi.k8s.io/"))
            for (auto& n : items(value, ',')) names.push_back(n);
    if (!names.empty()) {
        auto res =
            cdi::apply_device_names(spec, names, items(env_or("GANTRY_CDI_SPEC_DIRS", ""), ':'),
                                    cdi::ApplyOptions{true, true},
                                    {"annotation cdi.k8s.io/...", Errc::invalid,
                                     "use vendor.com/class=name, e.g. nvidia.com/gpu=0"});
        for (auto& w : res.warnings) log::warn(w);
        added.insert(added.end(), names.begin(), names.end());
        // the vendor of the first name's kind ("nvidia.com/gpu=0": nvidia's backend)
        if (backend) try {
                const std::string& n = names.front();
                *backend = &gpu_vendors::find(n.substr(0, n.find_first_of("./")));
            } catch (const Error&) { // a kind of a vendor gantry has no backend for: no GPU facts
            }
    }
    // the vendors' environment contract: the GPU layer's step for every door, the
    // compatibility policy (NVIDIA_REQUIRE_*, the doctor's rules) included
    const gpu_vendors::Roots roots = requested_roots();
    const std::optional<std::string> no_gpus_flag;
    const std::vector<std::string> env = spec.env; // the request, before the edits change it
    gpu_vendors::GpuContext ctx{gpu_vendors::Door::oci,
                                env,
                                no_gpus_flag,
                                roots,
                                nullptr,
                                {running_as_real_root(), ::geteuid(), ::getegid(), false},
                                env_or("GANTRY_NO_REQUIRE", "") == "1",
                                host_cache_dir(),
                                fs::self_exe(),
                                "GANTRY_NO_REQUIRE=1"};
    std::vector<std::string> warnings;
    gpu_vendors::AddedGpus by;
    auto devs = gpu_vendors::add_gpus(spec, ctx, std::nullopt, {}, &warnings, &by);
    for (auto& w : warnings) log::warn(w);
    if (backend && by.backend && !devs.empty()) *backend = by.backend;
    added.insert(added.end(), devs.begin(), devs.end());
    return added;
}

} // namespace gantry::ocirt
