#include "gpu_vendors/nvidia/backend.hpp"

#include "gpu_vendors/nvidia/analyze_findings.hpp"
#include "gpu_vendors/nvidia/cdi.hpp"
#include "gpu_vendors/nvidia/device_code.hpp"
#include "gpu_vendors/nvidia/doctor_rules.hpp"
#include "gpu_vendors/nvidia/gpu_facts.hpp"
#include "gpu_vendors/nvidia/host.hpp"
#include "gpu_vendors/nvidia/host_cache.hpp"
#include "gpu_vendors/nvidia/image_checks.hpp"
#include "gpu_vendors/nvidia/lint_rules.hpp"
#include "gpu_vendors/nvidia/mps.hpp"
#include "gpu_vendors/nvidia/request.hpp"
#include "gpu_vendors/nvidia/tegra.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/lap_timer.hpp"
#include "util/log.hpp"

#include <algorithm>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::gpu_vendors::nvidia {

namespace {

gpu_vendors::nvidia::DiscoverOptions discover_options(const Roots& roots) {
    gpu_vendors::nvidia::DiscoverOptions o{roots.driver_root, roots.dev_root, true};
    o.sys_root = roots.sys_root;
    return o;
}

std::string cache_below(const std::string& root, const char* name) {
    return root.empty() ? std::string() : root + "/" + name;
}

// The selection's devices as generate() names them by index: whole GPUs "i", MIG devices "i:j"
// (their parent's node comes with them); on WSL2 its one device, "all".
std::vector<std::string> device_names(const Host& host, const Selection& sel) {
    if (host.wsl) return {"all"};
    std::vector<std::string> names;
    if (sel.whole_gpu_requested)
        for (auto* d : sel.gpus) names.push_back(std::to_string(d->index));
    for (auto* m : sel.migs)
        for (auto& d : host.devices)
            if (!d.migs.empty() && m >= &d.migs.front() && m <= &d.migs.back())
                names.push_back(std::to_string(d.index) + ":" +
                                std::to_string(m - &d.migs.front()));
    return names;
}

// A node the run needs: there, and open to the caller (ACCESS). An optional one may be missing.
void check_node(const gpu_host::DeviceNode& n, const std::string& what, bool required,
                int access = R_OK | W_OK) {
    if (!n.present) {
        if (!required) return;
        throw Error(
            Errc::run_failed, what + " has no device node " + n.host_path,
            "load the NVIDIA kernel modules (nvidia-modprobe, or nvidia-smi as root) or point "
            "--dev-root at the directory holding dev/nvidia*");
    }
    if (::access(n.host_path.c_str(), access) != 0)
        throw Error(Errc::run_failed,
                    what + ": device node " + n.host_path + " is not " +
                        (access & W_OK ? "readable and writable" : "readable") + " by you",
                    "ask the administrator for access to the NVIDIA devices (mode 0666 or your "
                    "group on /dev/nvidia*)");
}

// gantry run's checks before any namespace exists: the driver, and the nodes the selection
// needs, each there and open to the caller, said with the fix.
void check_nodes(const Host& host, const Selection& sel, const Capabilities& caps) {
    if (host.wsl) {
        if (host.wsl_driver_store.empty())
            throw Error(Errc::run_failed,
                        "WSL2 without the NVIDIA driver: no driver store under " +
                            gpu_host::join_root(host.driver_root, "/usr/lib/wsl/drivers") +
                            " holds libcuda.so.1.1",
                        "install the current NVIDIA driver on Windows (it brings WSL2 support; "
                        "never a Linux driver inside WSL), then restart WSL (wsl --shutdown)");
        if (!host.dxg.present)
            throw Error(Errc::run_failed, "WSL2 without its GPU device " + host.dxg.host_path,
                        "use WSL2, not WSL1 (wsl --set-version DISTRO 2), with a current Windows "
                        "GPU driver, or point --dev-root at the directory holding dev/dxg");
        if (::access(host.dxg.host_path.c_str(), R_OK | W_OK) != 0)
            throw Error(Errc::run_failed,
                        "the WSL2 GPU device " + host.dxg.host_path +
                            " is not readable and writable by you",
                        "WSL creates it with mode 0666: chmod 0666 /dev/dxg as root");
        return;
    }
    if (host.tegra) { // a Jetson: the nodes its mount lists name, every one open to the caller
        if (host.board.nodes.empty())
            throw Error(Errc::run_failed,
                        "this Jetson's mount lists (" +
                            gpu_host::join_root(host.driver_root, kTegraCsvDir) +
                            ") name no device node that exists under " +
                            gpu_host::join_root(host.dev_root, "/dev"),
                        "install NVIDIA's container packages for L4T and load the GPU driver, or "
                        "point --driver-root and --dev-root at the board's root (gantry doctor "
                        "says more)");
        for (const auto& n : host.board.nodes) check_node(n, "the Jetson's GPU", true);
        return;
    }
    if (!host.has_driver())
        throw Error(Errc::run_failed,
                    "no NVIDIA driver found under driver root " + host.driver_root +
                        (host.notes.empty() ? "" : " (" + host.notes.front() + ")"),
                    "install the NVIDIA driver, or point --driver-root at it");
    check_node(host.ctl, "the NVIDIA control device", true);
    for (auto* d : sel.gpus)
        check_node(d->node, "GPU " + std::to_string(d->index) + " (" + d->uuid + ")", true);
    for (auto* m : sel.migs) { // capability nodes are 0444 by design: opened read-only
        check_node(m->gi_cap, "MIG device " + m->uuid, true, R_OK);
        check_node(m->ci_cap, "MIG device " + m->uuid, true, R_OK);
    }
    if (caps.count(Capability::compute)) {
        check_node(host.uvm, "nvidia-uvm", false);
        check_node(host.uvm_tools, "nvidia-uvm-tools", false);
    }
    if (caps.count(Capability::display)) check_node(host.modeset, "nvidia-modeset", false);
}

class Nvidia final : public Backend {
  public:
    std::string_view name() const override { return "nvidia"; }
    std::string_view cdi_kind() const override { return "nvidia.com/gpu"; }

    bool present(const Roots& roots) const override {
        // The kernel module's proc tree (under the driver root on simulated hosts), or its
        // control node.
        struct stat st {};
        for (auto& p : {gpu_host::join_root(roots.driver_root, "/proc/driver/nvidia/version"),
                        std::string("/proc/driver/nvidia/version"),
                        gpu_host::join_root(roots.dev_root, "/dev/nvidiactl")})
            if (::stat(p.c_str(), &st) == 0) return true;
        if (!tegra_files_reason(roots.driver_root, roots.sys_root).empty()) return true; // Jetson
        return wsl_present(roots);
    }

    // WSL2: /dev/dxg and a driver store holding NVIDIA's libcuda.so.1.1.
    static bool wsl_present(const Roots& roots) {
        struct stat st {};
        if (::stat(gpu_host::join_root(roots.dev_root, "/dev/dxg").c_str(), &st) != 0) return false;
        const std::string drivers = gpu_host::join_root(roots.driver_root, "/usr/lib/wsl/drivers");
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator(drivers, ec))
            if (::stat((e.path().string() + "/libcuda.so.1.1").c_str(), &st) == 0) return true;
        return false;
    }

    bool asked(const std::vector<std::string>& env,
               const std::optional<std::string>& gpus) const override {
        // CUDA_VERSION: a legacy image (before NVIDIA_REQUIRE_CUDA) gets every GPU
        return gpus || env_value(env, "NVIDIA_VISIBLE_DEVICES") || env_value(env, "CUDA_VERSION");
    }

    std::string_view sharing_daemon() const override { return "an MPS control daemon"; }

    SharingClient sharing_client(const SharingRequest& request) const override {
        const auto place = mps_place(request.place, request.env, request.caller_env);
        auto daemon = find_mps_daemon(place);
        if (!daemon)
            throw Error(Errc::run_failed,
                        "no MPS control daemon at " + place.pipe_dir + " (no control socket)",
                        "start one (nvidia-cuda-mps-control -d, with CUDA_MPS_PIPE_DIRECTORY "
                        "set to the directory; docs/gpu-sharing.md) or pass its directory with "
                        "--mps=DIR");
        SharingClient c;
        c.directories.push_back(place.pipe_dir);
        if (daemon->log_dir_exists) c.directories.push_back(place.log_dir);
        c.shares_dev_shm = true; // the server and its clients share memory in /dev/shm
        c.env = mps_client_env(place, request.memory, request.compute);
        if (auto w = mps_uid_warning(*daemon, request.client_uid); !w.empty())
            c.warnings.push_back(w);
        if (auto w = mps_namespace_note(*daemon); !w.empty()) c.warnings.push_back(w);
        if (!daemon->namespace_name.empty()) // the namespace's directory alone is bound
            log::debug("MPS v3 namespace " + daemon->namespace_name + " at " + place.pipe_dir);
        return c;
    }

    GpuPlan plan(const GpuContext& ctx) const override {
        GpuPlan plan;
        auto request = gpu_vendors::nvidia::parse_request(ctx.env, ctx.gpus);
        if (!request.inject) return plan;
        log::LapTimer phase; // --debug: where a GPU start spends its time
        auto host = gpu_vendors::nvidia::discover_cached(discover_options(ctx.roots),
                                                         cache_below(ctx.cache_dir, "gpu-cache"));
        std::string why;
        auto sel = host.wsl ? gpu_vendors::nvidia::select_wsl(host, request, &why)
                            : gpu_vendors::nvidia::select(host, request);
        if (!why.empty()) log::warn(why);
        phase.lap("gpu discovery");
        // gantry doctor's rules (driver vs the image's CUDA, NVIDIA_REQUIRE_*, kernels for the
        // selected GPUs, ...): with an image, cached per image, driver and GPUs; without one (a
        // bundle's root), what its environment says.
        GenerateOptions gopt;
        if (ctx.image) {
            auto facts = image_gpu_facts_cached(
                ctx.image->store, ctx.image->image, ctx.image->files, ctx.image->ref, ctx.env, host,
                request, sel, cache_below(ctx.cache_dir, "doctor-cache"));
            plan.findings = std::move(facts.findings);
            if (ctx.door == Door::run) gopt.layout = facts.layout;
        } else if (host.has_driver()) {
            ImageFacts env_only;
            env_only.ref = "the container";
            env_only.env = ctx.env;
            plan.findings = check_image(host, env_only, request, sel);
        }
        plan.override_by = ctx.no_require            ? ctx.no_require_name
                           : request.disable_require ? "NVIDIA_DISABLE_REQUIRE"
                                                     : nullptr;
        plan.how_to_override =
            std::string(ctx.no_require_name) + " (or NVIDIA_DISABLE_REQUIRE=true) runs it anyway";
        if (ctx.door == Door::run) check_nodes(host, sel, request.caps);
        phase.lap("pre-launch checks and image layout");
        gopt.gantry_path = ctx.gantry_path;
        gopt.driver_root = ctx.roots.driver_root;
        gopt.dev_root = ctx.roots.dev_root;
        gopt.naming = {Naming::index};
        gopt.caps = request.caps;
        plan.spec = gantry::gpu_vendors::nvidia::generate(host, gopt, &plan.warnings);
        plan.devices = device_names(host, sel);
        std::vector<std::string> buses;
        for (const auto* g : sel.gpus) buses.push_back(g->pci_bus_id);
        set_pci_functions(plan, buses);
        if (plan.devices.empty()) { // NVIDIA_VISIBLE_DEVICES=none: the driver without a GPU
            plan.spec.devices.push_back({"none", {}, {}});
            plan.devices = {"none"};
        }
        phase.lap("description");
        return plan;
    }

    cdi::Spec generate_cdi(const Roots& roots, const CdiOptions& options,
                           std::vector<std::string>* warnings) const override {
        gpu_vendors::nvidia::Host host = gpu_vendors::nvidia::discover(discover_options(roots));
        for (const auto& n : host.notes) log::debug("discovery: " + n);
        gantry::gpu_vendors::nvidia::GenerateOptions gopt;
        gopt.gantry_path = options.gantry_path;
        gopt.driver_root = roots.driver_root;
        gopt.dev_root = roots.dev_root;
        if (!options.naming.empty()) {
            gopt.naming.clear();
            for (const auto& n : options.naming) {
                auto naming = gantry::gpu_vendors::nvidia::naming_from_string(n);
                if (!naming)
                    throw Error(Errc::usage, "unknown device name strategy \"" + n + "\"",
                                "use index or uuid");
                gopt.naming.push_back(*naming);
            }
        }
        return gantry::gpu_vendors::nvidia::generate(host, gopt, warnings);
    }

    std::vector<std::string> device_targets(const Roots& roots) const override {
        auto host = gpu_vendors::nvidia::discover(discover_options(roots));
        std::vector<std::string> out;
        for (const auto& d : host.devices) {
            if (d.cc_major <= 0 || d.cc_minor < 0 || d.cc_minor > 9)
                throw Error(Errc::not_found,
                            "--keep-arch host: the compute capability of GPU " +
                                std::to_string(d.index) + " (" + d.name + ") cannot be read",
                            "NVML did not report it; name the architecture instead, e.g. "
                            "--keep-arch sm_90");
            std::string t = "sm_" + std::to_string(d.cc_major) + std::to_string(d.cc_minor);
            if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
        }
        return out;
    }

    // the driver (its PTX JIT, ComputeCache's key), the CUDA it serves, every GPU's compute
    // capability (the discovery cached per boot, as a run's)
    std::vector<std::string> kernel_cache_facts(const Roots& roots,
                                                const std::string& cache_dir) const override {
        auto host = gpu_vendors::nvidia::discover_cached(discover_options(roots),
                                                         cache_below(cache_dir, "gpu-cache"));
        std::string targets;
        for (const auto& d : host.devices) {
            std::string t = d.cc_major > 0
                                ? "sm_" + std::to_string(d.cc_major) + std::to_string(d.cc_minor)
                                : d.name; // /proc only: the model's name
            if (("," + targets + ",").find("," + t + ",") == std::string::npos)
                targets += (targets.empty() ? "" : ",") + t;
        }
        return {"driver=" + host.driver_version,
                "cuda=" + gpu_vendors::nvidia::cuda_version_string(host.cuda_version),
                "targets=" + targets};
    }

    // the driver's PTX JIT cache (ComputeCache): its path and its size, 4 GiB, the largest the
    // driver takes (docs/kernel-caches.md)
    std::vector<kernel_cache::Variable> kernel_cache_variables() const override {
        return {{"CUDA_CACHE_PATH", "nv/ComputeCache", true, false,
                 "the NVIDIA driver's PTX JIT cache"},
                {"CUDA_CACHE_MAXSIZE", "4294967296", false, false,
                 "the NVIDIA driver's PTX JIT cache"}};
    }
    std::vector<kernel_cache::Disabler> kernel_cache_disablers() const override {
        return {{"CUDA_CACHE_DISABLE",
                 {"1"},
                 "the NVIDIA driver's PTX JIT cache (ComputeCache)",
                 "CUDA_CACHE_DISABLE=0"}};
    }

    std::vector<findings::Finding> doctor(const DoctorContext& ctx) const override {
        auto host = gpu_vendors::nvidia::discover_cached(discover_options(ctx.roots),
                                                         cache_below(ctx.cache_dir, "gpu-cache"));
        auto findings = check_host(host);
        if (!ctx.image) return findings;
        auto req = gpu_vendors::nvidia::parse_request(ctx.env, ctx.gpus);
        gpu_vendors::nvidia::Selection sel;
        try {
            std::string why;
            sel = host.wsl ? gpu_vendors::nvidia::select_wsl(host, req, &why)
                           : gpu_vendors::nvidia::select(host, req);
            if (!why.empty())
                findings.push_back({"WSL-DEVICE-SELECTION", findings::Severity::warn, why, ""});
        } catch (const Error& e) {
            findings.push_back({"GPU-UNKNOWN", findings::Severity::fail, e.message(), e.hint()});
        }
        auto more = image_findings(*ctx.store, *ctx.image, ctx.ref, ctx.env, host, req, sel,
                                   ctx.path_prefix);
        findings.insert(findings.end(), more.begin(), more.end());
        return findings;
    }

    std::vector<const device_code::Format*> device_code() const override {
        return {&cuda_format()};
    }

    std::vector<RootFlag> root_flags() const override {
        return {{"--driver-root", &Roots::driver_root, "Root of the GPU driver installation",
                 "NVIDIA: its libraries, binaries and firmware"},
                {"--dev-root", &Roots::dev_root, "Root holding dev/ (GPU device nodes)"},
                {"--sys-root", &Roots::sys_root, "Root holding sys/",
                 "NVIDIA: a Jetson's SoC, in devices/soc0 and the device tree"}};
    }

    std::string_view apptainer_flag() const override { return "--nv"; }
    std::string_view docker_runtime() const override { return "nvidia"; }
    std::string_view hide_env() const override { return "NVIDIA_VISIBLE_DEVICES=void"; }

    const lint::RuleSet* lint_rules() const override { return &nvidia::lint_rules(); }
    std::unique_ptr<ImageFindings> analyze_findings() const override {
        return nvidia::analyze_findings();
    }
    std::string_view keep_arch_example() const override { return "sm_90 (CUDA)"; }

    std::vector<VendorHook> hooks() const override {
        return {{"disable-device-node-modification",
                 "Overlay /proc/driver/nvidia/params with ModifyDeviceFiles: 0",
                 {{"--params", "/proc/driver/nvidia/params", "The host's params file"}},
                 &params_overlay}};
    }

  private:
    // nvidia-ctk's disable-device-node-modification: the driver never creates or chmods device
    // nodes on the container's behalf. No driver params on this host: nothing to disable.
    static std::vector<FileOverlay> params_overlay(const std::map<std::string, std::string>& opt) {
        std::optional<std::string> text;
        try {
            text = params_for_container(fs::read_file(opt.at("--params"), 1 << 20));
        } catch (const Error&) {
        }
        if (!text) return {};
        return {{"/proc/driver/nvidia/params", std::move(*text)}};
    }

    Toolchain toolchain() const override {
        // the CUDA Toolkit's compilers, binary tools, profilers and debuggers
        static constexpr std::string_view programs[] = {
            "nvcc",  "ptxas",    "nvlink",         "fatbinary",         "cudafe++",    "cicc",
            "bin2c", "nvdisasm", "cuobjdump",      "nvprune",           "cu++filt",    "ncu",
            "nsys",  "cuda-gdb", "cuda-gdbserver", "compute-sanitizer", "nvcc.profile"};
        static constexpr std::string_view paths[] = {"nvvm/bin/", "nsight-compute",
                                                     "nsight-systems"};
        return {programs, paths};
    }
    // Slurm's gres.conf nvidia_gpu_env (a default)
    std::span<const std::string_view> slurm_gpu_variables() const override {
        static constexpr std::string_view names[] = {"CUDA_VISIBLE_DEVICES"};
        return names;
    }
};

} // namespace

const Backend& backend() {
    static const Nvidia instance;
    return instance;
}

} // namespace gantry::gpu_vendors::nvidia
