#include "image_build/step_devices.hpp"

#include "cdi/registry.hpp"
#include "gpu_vendors/all/backends.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <sys/stat.h>

namespace gantry::image_build {
namespace {

// One use as the host can give it.
struct Resolved {
    const gpu_vendors::Backend* backend = nullptr; // native: the backend and its --gpus value
    std::string gpus;   // "all", or a device (index, UUID) of the backend
    std::string device; // else a CDI name or a /dev path
};

std::string kind_of(const std::string& name) {
    return name.substr(0, name.find('='));
}

const gpu_vendors::Backend* backend_of_kind(const std::string& kind) {
    for (const gpu_vendors::Backend* b : gpu_vendors::backends())
        if (b->cdi_kind() == kind) return b;
    return nullptr;
}

std::string vendor_names() {
    std::vector<std::string> names;
    for (const gpu_vendors::Backend* b : gpu_vendors::backends()) names.emplace_back(b->name());
    return text::join(names, ", ");
}

// "--device NAME", "line 3: RUN --device=NAME"
std::string shown(const DeviceUse& use) {
    return use.origin + (use.origin.starts_with("--") ? " " : "=") + use.name;
}

[[noreturn]] void bad_name(const DeviceUse& use) {
    throw Error(Errc::usage, shown(use) + ": not a device name",
                "name a CDI device (vendor.com/class=name, e.g. nvidia.com/gpu=all; `gantry cdi "
                "list` shows the host's) or a host device path such as /dev/fuse");
}

std::optional<Resolved> resolve_one(const DeviceUse& use, const DeviceHost& host,
                                    std::string& why) {
    Resolved r;
    if (use.gpus_flag) {
        const gpu_vendors::Backend& b = gpu_vendors::choose(host.roots, std::nullopt);
        if (!b.present(host.roots)) {
            why = "this host has no GPU driver (" + vendor_names() + ")";
            return std::nullopt;
        }
        r.backend = &b;
        r.gpus = use.name;
        return r;
    }
    if (use.name.starts_with('/')) {
        struct stat st {};
        if (::stat(use.name.c_str(), &st) != 0 || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))) {
            why = "this host has no device " + use.name;
            return std::nullopt;
        }
        r.device = use.name;
        return r;
    }
    std::string kind = kind_of(use.name);
    if (kind.find('/') == std::string::npos || kind.find('.') == std::string::npos ||
        kind.ends_with('/') || use.name.ends_with('='))
        bad_name(use);
    if (const gpu_vendors::Backend* b = backend_of_kind(kind)) {
        if (!b->present(host.roots)) {
            why = "this host has no " + std::string(b->name()) + " GPU driver";
            return std::nullopt;
        }
        std::string which = use.name.size() > kind.size() ? use.name.substr(kind.size() + 1) : "";
        r.backend = b;
        r.gpus = which == "all" || which == "*" ? "all" : which.empty() ? "0" : which;
        return r;
    }
    auto dirs = cdi::default_spec_dirs();
    dirs.insert(dirs.end(), host.cdi_dirs.begin(), host.cdi_dirs.end());
    cdi::Registry reg(dirs);
    std::vector<std::string> names;
    for (const auto& n : reg.device_names())
        if (n.starts_with(kind + "=")) names.push_back(n);
    std::string which = use.name.size() > kind.size() ? use.name.substr(kind.size() + 1) : "";
    if (names.empty() || (!which.empty() && which != "*" && !reg.resolve(use.name))) {
        why = "no CDI spec in " + text::join(dirs, ", ") + " describes " + use.name;
        return std::nullopt;
    }
    if (which.empty()) {
        r.device = names.front(); // BuildKit: the kind alone is its first device
    } else if (which == "*") {
        r.device = text::join(names, "\n"); // every device of the kind
    } else {
        r.device = use.name;
    }
    return r;
}

} // namespace

DeviceUse parse_run_device(std::string_view value, int line) {
    DeviceUse use;
    use.origin = "line " + std::to_string(line) + ": RUN --device";
    std::string v(value);
    auto fail = [&](const std::string& what) {
        throw Error(Errc::usage, use.origin + "=" + v + ": " + what,
                    "use RUN --device=NAME or RUN --device=NAME,required (NAME a CDI device "
                    "such as nvidia.com/gpu=all)");
    };
    // NAME may hold '=' (vendor.com/class=name): the first field is NAME unless it is name=
    auto fields = text::split(v, ',');
    bool first = true;
    for (std::string_view f : fields) {
        std::string field(f);
        if (first && !field.starts_with("name=") && !field.starts_with("required")) {
            use.name = field;
        } else if (field.starts_with("name=")) {
            use.name = field.substr(5);
        } else if (field == "required" || field == "required=true") {
            use.required = true;
        } else if (field == "required=false") {
            use.required = false;
        } else {
            fail("'" + field + "' is not name=, required or required=true|false");
        }
        first = false;
    }
    if (use.name.empty()) fail("no device name");
    return use;
}

void check_allow_values(const std::vector<std::string>& allow) {
    for (const auto& a : allow) {
        if (a == "device" ||
            (a.starts_with("device=") && a.size() > 7 && a.find(',') == std::string::npos))
            continue;
        throw Error(Errc::usage,
                    "--allow " + a + ": gantry build grants only the device entitlement",
                    "use --allow device (or --allow device=nvidia.com/gpu for one kind); RUN "
                    "steps never get network.host or security.insecure beyond --network");
    }
}

void check_allowed(const DeviceUse& use, const std::vector<std::string>& allow) {
    for (const auto& a : allow)
        if (a == "device" ||
            (!use.gpus_flag && (a == "device=" + use.name || a == "device=" + kind_of(use.name))))
            return;
    throw Error(Errc::usage, shown(use) + ": devices in a build need the device entitlement",
                "add --allow device to the gantry build command (BuildKit's `--allow device`), "
                "after checking that the Dockerfile is one you trust with the host's devices");
}

bool available(const DeviceUse& use, const DeviceHost& host, std::string& why) {
    return resolve_one(use, host, why).has_value();
}

StepDevices resolve_devices(const std::vector<DeviceUse>& uses, const DeviceHost& host,
                            std::vector<std::string>& skipped) {
    StepDevices out;
    const gpu_vendors::Backend* backend = nullptr;
    std::vector<std::string> items; // single devices named by CDI names
    std::optional<std::string> flag;
    bool all = false;
    for (const auto& use : uses) {
        std::string why;
        auto r = resolve_one(use, host, why);
        if (!r) {
            if (use.required || use.origin.starts_with("--"))
                throw Error(Errc::not_found, shown(use) + ": " + why,
                            "build on a host that has it, or leave it out");
            skipped.push_back(use.name + " (" + use.origin + "): " + why);
            continue;
        }
        if (r->backend) {
            if (backend && backend != r->backend)
                throw Error(Errc::unsupported,
                            shown(use) + ": one step gets the GPUs of one vendor, " + "and " +
                                std::string(backend->name()) + " GPUs are already asked",
                            "split the work into a step per vendor");
            backend = r->backend;
            if (use.gpus_flag)
                flag = r->gpus;
            else if (r->gpus == "all")
                all = true;
            else
                items.push_back(r->gpus);
            out.seen.push_back(use.gpus_flag ? "--gpus " + r->gpus
                                             : std::string(r->backend->cdi_kind()) + "=" + r->gpus);
        } else {
            for (auto name : text::split(r->device, '\n')) {
                out.devices.emplace_back(name);
                out.seen.emplace_back(name);
            }
        }
    }
    if (backend) {
        if (all || flag == "all")
            out.gpus = "all";
        else if (flag && !items.empty())
            throw Error(Errc::usage,
                        "--gpus " + *flag + " and RUN --device " + text::join(items, ", ") +
                            " name the same step's GPUs twice",
                        "name a step's GPUs one way: --gpus all, or RUN --device for each");
        else if (flag)
            out.gpus = *flag;
        else
            out.gpus = "\"device=" + text::join(items, ",") + "\"";
        out.gpu_vendor = std::string(backend->name());
    }
    return out;
}

} // namespace gantry::image_build
