#include "ocirt/gpus.hpp"

#include "cdi/registry.hpp"
#include "gpu_limits/apply.hpp"
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

extern char** environ;

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

const gpu_vendors::Backend*
cdi_annotations_backend(const std::map<std::string, std::string>& annotations) {
    for (const auto& [key, value] : annotations)
        if (key.starts_with("cdi.k8s.io/"))
            for (auto& n : items(value, ',')) try {
                    return &gpu_vendors::find(n.substr(0, n.find_first_of("./")));
                } catch (const Error&) { // a vendor gantry has no backend for
                }
    return nullptr;
}

std::vector<std::string> add_requested_gpus(oci::RuntimeSpec& spec,
                                            gpu_vendors::AddedGpus* added_gpus) {
    std::vector<std::string> added;
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
    auto devs = gpu_vendors::add_gpus(spec, ctx, std::nullopt, {}, &warnings, added_gpus);
    for (auto& w : warnings) log::warn(w);
    added.insert(added.end(), devs.begin(), devs.end());
    return added;
}

namespace {

// The host uid of the container's process: SPEC's user through its uid mappings, when it has a
// user namespace of its own.
uid_t client_uid(const oci::RuntimeSpec& spec) {
    for (const auto& m : spec.uid_mappings)
        if (spec.uid >= m.container_id && spec.uid - m.container_id < m.size)
            return static_cast<uid_t>(m.host_id + (spec.uid - m.container_id));
    return static_cast<uid_t>(spec.uid);
}

} // namespace

void apply_gpu_share(oci::RuntimeSpec& spec, nlohmann::json& config,
                     const gpu_vendors::AddedGpus& added) {
    gpu_limits::ShareAsk ask = gpu_limits::ask_from_annotations(spec.annotations);
    if (!ask.any()) return;
    // containerd's pod_annotations reach the pod's sandbox (its pause container) too: they are
    // for the pod's containers, and the sandbox asks for no GPU
    if (auto t = spec.annotations.find("io.kubernetes.cri.container-type");
        t != spec.annotations.end() && t->second == "sandbox") {
        log::debug("the GPU share annotations are for the pod's containers, not its sandbox");
        return;
    }
    nlohmann::json& resources = config["linux"]["resources"];
    if (!resources.is_object()) resources = nlohmann::json::object();
    auto cpuset = [&](const char* key) {
        const auto& cpu = resources.value("cpu", nlohmann::json::object());
        return cpu.is_object() && cpu.contains(key) && cpu[key].is_string()
                   ? cpu[key].get<std::string>()
                   : std::string();
    };
    ask.cpuset_cpus = cpuset("cpus");
    ask.cpuset_mems = cpuset("mems");
    const auto& names = gpu_limits::annotation_names();
    if (!ask.memory.empty() || !ask.memory_reservation.empty()) {
        const auto& unified = resources.value("unified", nlohmann::json::object());
        for (const char* file : {"dmem.max", "dmem.min"})
            if (unified.is_object() && unified.contains(file))
                throw Error(Errc::invalid,
                            "the bundle's config.json has linux.resources.unified." +
                                std::string(file) + " and " + names.memory + " or " +
                                names.memory_reservation,
                            "give the GPU memory limit one way");
    }
    std::vector<std::string> caller_env;
    for (char** e = environ; e && *e; ++e) caller_env.emplace_back(*e);
    const gpu_vendors::Roots roots = requested_roots();
    const gpu_limits::ShareHost host{roots, caller_env, client_uid(spec)};
    const auto limits = gpu_limits::apply_share(ask, names, added, host, spec);
    if (!limits.cpuset_cpus.empty()) resources["cpu"]["cpus"] = limits.cpuset_cpus;
    if (!limits.cpuset_mems.empty()) resources["cpu"]["mems"] = limits.cpuset_mems;
    if (!limits.dmem_max.empty()) resources["unified"]["dmem.max"] = limits.dmem_max;
    if (!limits.dmem_min.empty()) resources["unified"]["dmem.min"] = limits.dmem_min;
    // the spec the runtime reads carries them too (its hooks, a later command), its device
    // rules apart as RuntimeSpec::from_json keeps them
    nlohmann::json without_devices = resources;
    without_devices.erase("devices");
    spec.resources = oci::LinuxResources::from_json(without_devices);
}

} // namespace gantry::ocirt
