#include "gpu_vendors/amd/rocm_rules.hpp"

#include "gpu_vendors/amd/topology.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <map>

namespace gantry::gpu_vendors::amd {

namespace {

constexpr std::size_t kMaxFileFindings = 10; // then one "and N more" finding

std::string gpu_words(const RocmGpu& g, const amd::TargetId& t) {
    return "GPU " + std::to_string(g.index) + " (" + (g.name.empty() ? "" : g.name + ", ") +
           t.str() + ")";
}

std::string join(const std::vector<std::string>& v) {
    return text::join(v, ", ");
}

// Distinct ROCm releases of the image, each with the first place it was read.
std::vector<std::pair<RocmRelease, std::string>> releases(const RocmImageFacts& img) {
    std::vector<std::pair<RocmRelease, std::string>> out;
    for (const auto& e : img.rocm) {
        auto r = parse_rocm_version(e.version);
        if (!r) continue;
        auto it = std::find_if(out.begin(), out.end(), [&](auto& p) { return p.first == *r; });
        if (it == out.end()) out.push_back({*r, e.source});
    }
    return out;
}

bool file_fits(const HipCodeFile& f, const amd::TargetId& device) {
    return std::any_of(f.targets.begin(), f.targets.end(),
                       [&](const amd::TargetId& co) { return hip_code_object_fits(co, device); });
}

} // namespace

amd::TargetId runtime_target(const RocmGpu& g, const RocmImageFacts& img) {
    amd::TargetId t = g.target;
    if (img.hsa_override)
        if (auto o = parse_hsa_override(*img.hsa_override); o && o->processor != t.processor) {
            t.processor = o->processor;
            t.sramecc = gpu_vendors::amd::has_sramecc_feature(t.processor)
                            ? amd::TargetFeature::any
                            : amd::TargetFeature::unsupported;
        }
    t.xnack = !has_xnack_feature(t.processor) ? amd::TargetFeature::unsupported
              : img.xnack_on                  ? amd::TargetFeature::on
                                              : amd::TargetFeature::off;
    return t;
}

std::vector<findings::Finding> check_kmd_compat(const RocmHostFacts& host,
                                                const RocmImageFacts& img) {
    std::vector<findings::Finding> out;
    auto rels = releases(img);
    if (rels.empty()) return out;
    {
        std::vector<std::string> words;
        for (const auto& e : img.rocm) words.push_back(e.version + " (" + e.source + ")");
        out.push_back(
            {"ROCM-IMAGE", findings::Severity::info, "the image's ROCm: " + join(words), ""});
    }
    const std::string matrix_fix = std::string("compare with ") + kKmdCompatSource;
    if (host.driver_version.empty()) {
        out.push_back({"ROCM-KMD-UNKNOWN", findings::Severity::info,
                       "the host's amdgpu is the kernel's in-tree driver (no "
                       "/sys/module/amdgpu/version), which AMD's ROCm compatibility table does "
                       "not cover: the image's ROCm " +
                           rels.front().first.str() + " is not checked against it",
                       "for a supported pairing install AMD's amdgpu-dkms driver"});
        return out;
    }
    const DriverRelease* dr = driver_release(host.driver_version);
    if (!dr) {
        out.push_back({"ROCM-KMD-UNKNOWN", findings::Severity::info,
                       "amdgpu " + host.driver_version +
                           " is not in gantry's table of driver releases (AMD publishes no map "
                           "from amdgpu versions to ROCm releases): the image's ROCm " +
                           rels.front().first.str() + " is not checked against it",
                       matrix_fix});
        return out;
    }
    for (const auto& [rel, source] : rels) {
        auto c = check_kmd(dr->kmd, rel);
        std::string driver = "amdgpu " + host.driver_version + " (the ROCm " + dr->kmd +
                             " kernel driver: " + dr->source + ")";
        if (!c.row) {
            out.push_back({"ROCM-KMD-UNKNOWN", findings::Severity::info,
                           driver + " has no row in AMD's compatibility table: ROCm " + rel.str() +
                               " (" + source + ") is not checked against it",
                           matrix_fix});
            continue;
        }
        std::string range = c.row->lo.str() + " to " + c.row->hi.str();
        std::string listed = "AMD lists ROCm " + range + " with it";
        switch (c.verdict) {
        case KmdVerdict::supported:
            out.push_back({"ROCM-KMD-COMPAT", findings::Severity::pass,
                           "the image's ROCm " + rel.str() + " (" + source + ") runs on " + driver +
                               "; " + listed,
                           ""});
            break;
        case KmdVerdict::user_space_too_new:
            out.push_back({"ROCM-KMD-TOO-OLD", findings::Severity::fail,
                           "the image's ROCm " + rel.str() + " (" + source + ") is newer than " +
                               driver + " supports: " + listed +
                               " (rocminfo fails with HSA_STATUS_ERROR_OUT_OF_RESOURCES)",
                           "upgrade the host's amdgpu-dkms driver to one AMD lists for ROCm " +
                               rel.str() + ", or use an image with ROCm " + range + " (" +
                               kKmdCompatSource + ")"});
            break;
        case KmdVerdict::user_space_too_old:
            out.push_back({"ROCM-KMD-UNTESTED", findings::Severity::warn,
                           "the image's ROCm " + rel.str() + " (" + source + ") is older than " +
                               driver + " is tested with: " + listed,
                           "use an image with ROCm " + range + " (" + kKmdCompatSource + ")"});
            break;
        case KmdVerdict::unknown_kmd:
            break;
        }
    }
    return out;
}

std::vector<findings::Finding> check_hip_code(const RocmHostFacts& host,
                                              const RocmImageFacts& img) {
    std::vector<findings::Finding> out;
    std::optional<GfxOverride> ov;
    if (img.hsa_override) {
        ov = parse_hsa_override(*img.hsa_override);
        if (!ov)
            out.push_back({"HSA-OVERRIDE-INVALID", findings::Severity::warn,
                           "HSA_OVERRIDE_GFX_VERSION=" + img.hsa_override->substr(0, 64) +
                               " is not major.minor.stepping of a GPU target: libhsakmt "
                               "ignores it (\"HSA_OVERRIDE_GFX_VERSION ... is invalid\")",
                           "set it as e.g. 10.3.0 (gfx1030) or 9.0.10 (gfx90a), or unset it"});
    }
    std::size_t damaged = 0;
    for (const auto& f : img.hip) {
        if (f.error.empty()) continue;
        if (++damaged <= kMaxFileFindings)
            out.push_back({"HIP-FATBIN-DAMAGED", findings::Severity::warn,
                           f.path + "'s HIP code objects cannot be read: " + f.error,
                           "rebuild the file; the HIP runtime may reject it too"});
    }
    if (host.gpus.empty()) return out;

    if (ov && img.hip.empty())
        out.push_back({"HSA-OVERRIDE", findings::Severity::info,
                       "HSA_OVERRIDE_GFX_VERSION=" + *img.hsa_override +
                           " makes every GPU report " + ov->processor +
                           " (the image has no HIP code objects gantry could check)",
                       ""});
    // HSA_OVERRIDE_GFX_VERSION on a GPU the image's code objects support natively: harmful.
    if (ov && !img.hip.empty())
        for (const auto& g : host.gpus) {
            if (g.target.processor == ov->processor) continue;
            RocmImageFacts plain = img;
            plain.hsa_override.reset();
            amd::TargetId native = runtime_target(g, plain);
            bool supported = std::all_of(img.hip.begin(), img.hip.end(), [&](auto& f) {
                return !f.error.empty() || file_fits(f, native);
            });
            if (supported)
                out.push_back({"HSA-OVERRIDE-NATIVE", findings::Severity::warn,
                               "HSA_OVERRIDE_GFX_VERSION=" + *img.hsa_override + " makes " +
                                   gpu_words(g, native) + " run " + ov->processor +
                                   " code although the image's code objects support it "
                                   "natively: another ISA's code can miss instructions or "
                                   "compute wrong results",
                               "unset HSA_OVERRIDE_GFX_VERSION"});
        }

    // Every file with HIP code needs a code object for every selected GPU (as the runtime will
    // see it). How doomed a launch is depends on the file: the HIP runtime registers a file's
    // fat binary at load but extracts its code objects when the first of its kernels is launched
    // (HIP_ENABLE_DEFERRED_LOADING=1, the default), so a library without code for the GPU fails
    // only if its kernels are used (ROCm images carry such libraries: hipSPARSELt is built for
    // gfx942 alone). It fails the launch when the file is a program (its kernels are its work),
    // PyTorch's core HIP library (every GPU tensor op), or when no file of the image has a code
    // object for the GPU at all; it warns otherwise.
    const char* id = ov ? "HSA-OVERRIDE-NO-CODE" : "HIP-NO-CODE-OBJECT";
    std::vector<std::string> covered; // GPUs (target words) some file has code for
    for (const auto& g : host.gpus) {
        amd::TargetId t = runtime_target(g, img);
        for (const auto& f : img.hip)
            if (f.error.empty() && file_fits(f, t)) {
                covered.push_back(gpu_words(g, t));
                break;
            }
    }
    auto core = [](const HipCodeFile& f) {
        return f.program || f.path.ends_with("/torch/lib/libtorch_hip.so") ||
               f.path.ends_with("/torch/lib/libc10_hip.so");
    };
    std::size_t failing = 0, checked = 0;
    bool more_doomed = false;
    for (const auto& f : img.hip) {
        if (!f.error.empty()) continue;
        ++checked;
        std::vector<std::string> missing, missing_targets;
        bool doomed = core(f);
        for (const auto& g : host.gpus) {
            amd::TargetId t = runtime_target(g, img);
            if (file_fits(f, t)) continue;
            missing.push_back(gpu_words(g, t));
            if (std::find(covered.begin(), covered.end(), missing.back()) == covered.end())
                doomed = true;
            if (std::find(missing_targets.begin(), missing_targets.end(), t.processor) ==
                missing_targets.end())
                missing_targets.push_back(t.processor);
        }
        if (missing.empty()) continue;
        if (++failing > kMaxFileFindings) {
            more_doomed = more_doomed || doomed;
            continue;
        }
        std::string why = ov ? " (HSA_OVERRIDE_GFX_VERSION=" + *img.hsa_override + ")" : "";
        std::string fix =
            ov ? "unset HSA_OVERRIDE_GFX_VERSION, or set it to a target the file has code for (" +
                     join(f.texts) + ")"
               : "use a build of it for " + join(missing_targets) +
                     " (hipcc/clang --offload-arch=" + missing_targets.front() +
                     ", PYTORCH_ROCM_ARCH or GPU_TARGETS), or select GPUs it has code for "
                     "(--gpus)";
        std::string when = doomed ? "; the HIP runtime fails with hipErrorNoBinaryForGpu"
                                  : "; the first of its kernels that runs fails with "
                                    "hipErrorNoBinaryForGpu (the HIP runtime loads a library's "
                                    "code objects on first use; other files have code for the GPU)";
        out.push_back({id, doomed ? findings::Severity::fail : findings::Severity::warn,
                       f.path + " has no code object for " + join(missing) + why + ": it has " +
                           (f.texts.empty() ? "none" : join(f.texts)) + when,
                       fix});
    }
    if (failing > kMaxFileFindings)
        out.push_back({id, more_doomed ? findings::Severity::fail : findings::Severity::warn,
                       "and " + std::to_string(failing - kMaxFileFindings) +
                           " more files without code objects for the selected GPUs",
                       "gantry doctor --fatbin FILE lists a file's code objects"});
    if (checked && !failing) {
        std::vector<std::string> gpus;
        for (const auto& g : host.gpus) {
            auto t = runtime_target(g, img).str();
            if (std::find(gpus.begin(), gpus.end(), t) == gpus.end()) gpus.push_back(t);
        }
        out.push_back({"HIP-CODE-OBJECTS", findings::Severity::pass,
                       std::to_string(checked) + " file" + (checked == 1 ? "" : "s") +
                           " with HIP code objects " + (checked == 1 ? "has" : "have") +
                           " code for every selected GPU (" + join(gpus) + ")",
                       ""});
    }
    // PYTORCH_ROCM_ARCH: the targets the image says it was built for.
    if (img.pytorch_rocm_arch) {
        auto list = parse_arch_list(*img.pytorch_rocm_arch);
        std::vector<std::string> unlisted, targets;
        for (const auto& g : host.gpus) {
            auto t = runtime_target(g, img);
            auto generic = generic_target_of(t.processor);
            bool listed = std::find(list.begin(), list.end(), t.processor) != list.end() ||
                          (generic && std::find(list.begin(), list.end(), *generic) != list.end());
            if (listed) continue;
            unlisted.push_back(gpu_words(g, t));
            if (std::find(targets.begin(), targets.end(), t.processor) == targets.end())
                targets.push_back(t.processor);
        }
        if (!unlisted.empty())
            out.push_back({"ROCM-ARCH-LIST", findings::Severity::warn,
                           "PYTORCH_ROCM_ARCH=" + img.pytorch_rocm_arch->substr(0, 200) +
                               " (the targets the image says its PyTorch was built for) does "
                               "not list " +
                               join(unlisted),
                           "use an image built with PYTORCH_ROCM_ARCH including " + join(targets)});
    }
    return out;
}

std::vector<findings::Finding> check_torch_rocm(const RocmHostFacts& host,
                                                const RocmImageFacts& img) {
    std::vector<findings::Finding> out;
    const bool rocm = img.is_rocm();
    if (!rocm && (!img.cuda.empty() || !img.torch_cuda.empty())) {
        std::string what =
            !img.cuda.empty()
                ? "CUDA " + img.cuda.front().version + " (" + img.cuda.front().source + ")"
                : "PyTorch " + img.torch_version + " (" + img.torch_path + ")";
        if (host.nvidia_driver)
            out.push_back({"AMD-CUDA-IMAGE", findings::Severity::warn,
                           "the image is built for NVIDIA GPUs (" + what +
                               ") and has no ROCm: it cannot use AMD GPUs",
                           "this host also has NVIDIA's driver: --gpu-vendor nvidia"});
        else
            out.push_back({"AMD-CUDA-IMAGE", findings::Severity::fail,
                           "the image is built for NVIDIA GPUs (" + what +
                               ") and has no ROCm, and this host has only AMD GPUs",
                           "use a ROCm build of the image (e.g. rocm/pytorch, or PyTorch from "
                           "https://download.pytorch.org/whl/rocm6.1)"});
        return out;
    }
    if (!img.torch || !rocm) return out;
    const std::string torch = "PyTorch " + img.torch_version + " (" + img.torch_path + ")";
    const std::string rocm_wheel =
        "install a ROCm build of PyTorch (pip install torch --index-url "
        "https://download.pytorch.org/whl/rocmX.Y, matching the image's ROCm)";
    if (!img.torch_hip.empty()) {
        std::string bundled = img.torch_rocm_libs.empty()
                                  ? ""
                                  : "; it bundles " + join(img.torch_rocm_libs) + " in torch/lib";
        out.push_back({"ROCM-TORCH", findings::Severity::info,
                       torch + " is built for ROCm (hip " + img.torch_hip + ")" + bundled, ""});
    } else if (!img.torch_cuda.empty()) {
        out.push_back({"ROCM-TORCH-CUDA", findings::Severity::fail,
                       torch + " is a CUDA " + img.torch_cuda +
                           " build in a ROCm image: it cannot use AMD GPUs "
                           "(torch.cuda.is_available() is False)",
                       rocm_wheel});
    } else {
        out.push_back({"ROCM-TORCH-CPU-ONLY", findings::Severity::warn,
                       torch + " is a CPU-only build in a ROCm image: it never uses the GPUs",
                       rocm_wheel});
    }
    return out;
}

std::vector<findings::Finding> check_rocm_image(const RocmHostFacts& host,
                                                const RocmImageFacts& img) {
    auto out = check_kmd_compat(host, img);
    for (auto* part : {&check_hip_code, &check_torch_rocm}) {
        auto more = (*part)(host, img);
        out.insert(out.end(), more.begin(), more.end());
    }
    return out;
}

} // namespace gantry::gpu_vendors::amd
