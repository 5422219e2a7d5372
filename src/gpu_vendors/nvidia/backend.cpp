#include "gpu_vendors/nvidia/backend.hpp"

#include "gpu_vendors/nvidia/analyze_findings.hpp"
#include "gpu_vendors/nvidia/cdi.hpp"
#include "gpu_vendors/nvidia/device_code.hpp"
#include "gpu_vendors/nvidia/gpu_facts.hpp"
#include "gpu_vendors/nvidia/host.hpp"
#include "gpu_vendors/nvidia/host_cache.hpp"
#include "gpu_vendors/nvidia/image_checks.hpp"
#include "gpu_vendors/nvidia/inject.hpp"
#include "gpu_vendors/nvidia/lint_rules.hpp"
#include "gpu_vendors/nvidia/request.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/lap_timer.hpp"
#include "util/log.hpp"

#include <algorithm>
#include <filesystem>
#include <sys/stat.h>

namespace gantry::gpu_vendors::nvidia {

namespace {

gpu_vendors::nvidia::DiscoverOptions discover_options(const Roots& roots) {
    return {roots.driver_root, roots.dev_root, true};
}

std::string cache_below(const std::string& root, const char* name) {
    return root.empty() ? std::string() : root + "/" + name;
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

    void add_to_run(const RunContext& ctx, oci::RuntimeSpec& spec) const override {
        auto request = gpu_vendors::nvidia::parse_request(ctx.env, ctx.gpus);
        if (!request.inject) return;
        log::LapTimer phase; // --debug: where a GPU start spends its time
        auto host = gpu_vendors::nvidia::discover_cached(discover_options(ctx.roots),
                                                         cache_below(ctx.cache_dir, "gpu-cache"));
        std::string why;
        auto sel = host.wsl ? gpu_vendors::nvidia::select_wsl(host, request, &why)
                            : gpu_vendors::nvidia::select(host, request);
        if (!why.empty()) log::warn(why);
        // gantry doctor's rules (driver vs the image's CUDA, NVIDIA_REQUIRE_*, kernels for the
        // selected GPUs, ...) before any namespace exists; cached per image, driver and GPUs.
        phase.lap("gpu discovery");
        auto facts =
            image_gpu_facts_cached(ctx.store, ctx.image, ctx.files, ctx.ref, ctx.env, host, request,
                                   sel, cache_below(ctx.cache_dir, "doctor-cache"));
        apply_policy(facts.findings,
                     ctx.no_require            ? "--no-require"
                     : request.disable_require ? "NVIDIA_DISABLE_REQUIRE"
                                               : nullptr,
                     "--no-require (or NVIDIA_DISABLE_REQUIRE=true) runs it anyway");
        phase.lap("pre-launch checks and image layout");
        gantry::gpu_vendors::nvidia::inject_gpus(spec, host, sel, request.caps, facts.layout,
                                                 ctx.state_dir);
        phase.lap("injection plan");
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

    std::vector<std::string> cdi_devices(const Roots& roots, const std::vector<std::string>& env,
                                         const std::optional<std::string>& gpus) const override {
        auto request = gpu_vendors::nvidia::parse_request(env, gpus);
        if (!request.inject) return {};
        auto host = gpu_vendors::nvidia::discover(discover_options(roots));
        if (host.wsl) return {"all"}; // generate_cdi's one device there
        auto sel = gpu_vendors::nvidia::select(host, request);
        // Whole GPUs by index; MIG devices as "i:j" (their parent's node comes with them, as
        // it does in a run).
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
                {"--dev-root", &Roots::dev_root, "Root holding dev/ (GPU device nodes)"}};
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
