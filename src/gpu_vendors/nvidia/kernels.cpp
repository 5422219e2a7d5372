#include "gpu_vendors/nvidia/kernels.hpp"

#include "gpu_vendors/nvidia/cuda_version.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <tuple>

namespace gantry::gpu_vendors::nvidia {

namespace {

int arch_major(const nvidia::FatbinEntry& e) {
    return static_cast<int>(e.arch / 10);
}
int arch_minor(const nvidia::FatbinEntry& e) {
    return static_cast<int>(e.arch % 10);
}

std::string cc_string(int major, int minor) {
    return std::to_string(major) + "." + std::to_string(minor);
}

std::string isa_string(const nvidia::FatbinEntry& e) {
    return std::to_string(e.code_major) + "." + std::to_string(e.code_minor);
}

int variant_rank(nvidia::ArchVariant v) {
    switch (v) {
    case nvidia::ArchVariant::a:
        return 2;
    case nvidia::ArchVariant::f:
        return 1;
    case nvidia::ArchVariant::plain:
        return 0;
    }
    return 0;
}

// Empty when the driver can JIT the entry's PTX ISA; else why not.
std::string ptx_isa_problem(const nvidia::FatbinEntry& e, int driver_cuda) {
    if (driver_cuda <= 0) return {};
    if (auto need = ptx_isa_min_cuda(e.code_major, e.code_minor)) {
        if (*need <= driver_cuda) return {};
        return e.arch_name() + " PTX has ISA " + isa_string(e) + ", which needs a CUDA " +
               cuda_string(*need) + " driver; this driver serves CUDA " + cuda_string(driver_cuda) +
               " (cudaErrorUnsupportedPtxVersion, 222)";
    }
    // Older than every ISA in the table (< 6.0): every current driver reads it.
    if (e.code_major < 6) return {};
    return e.arch_name() + " PTX has ISA " + isa_string(e) +
           ", which gantry does not know; assuming this driver (CUDA " + cuda_string(driver_cuda) +
           ") cannot JIT it";
}

} // namespace

const char* to_string(KernelVerdict v) {
    switch (v) {
    case KernelVerdict::sass:
        return "sass";
    case KernelVerdict::ptx_jit:
        return "ptx-jit";
    case KernelVerdict::none:
        return "none";
    }
    return "none";
}

bool sass_runs_on(const nvidia::FatbinEntry& e, int cc_major, int cc_minor) {
    if (e.kind != nvidia::EntryKind::sass) return false;
    if (e.variant == nvidia::ArchVariant::a)
        return arch_major(e) == cc_major && arch_minor(e) == cc_minor;
    // plain and family SASS alike: same major, minor at least the entry's (the family table of
    // the programming guide: 100f -> 10.0, 10.3; 103f -> 10.3; 120f -> 12.0, 12.1; 121f -> 12.1).
    return arch_major(e) == cc_major && cc_minor >= arch_minor(e);
}

bool ptx_targets(const nvidia::FatbinEntry& e, int cc_major, int cc_minor) {
    if (e.kind != nvidia::EntryKind::ptx) return false;
    switch (e.variant) {
    case nvidia::ArchVariant::a:
        return arch_major(e) == cc_major && arch_minor(e) == cc_minor;
    case nvidia::ArchVariant::f:
        return arch_major(e) == cc_major && cc_minor >= arch_minor(e);
    case nvidia::ArchVariant::plain:
        return std::pair(cc_major, cc_minor) >= std::pair(arch_major(e), arch_minor(e));
    }
    return false;
}

KernelCheck can_run(const std::vector<nvidia::FatbinEntry>& entries, int cc_major, int cc_minor,
                    int driver_cuda_version) {
    KernelCheck k;
    const std::string cc = cc_string(cc_major, cc_minor);
    std::optional<std::size_t> best_sass, best_ptx;
    std::vector<std::string> loadable; // arch names the driver would consider
    std::size_t relocatable_fit = 0;

    for (std::size_t i = 0; i < entries.size(); ++i) {
        auto& e = entries[i];
        if (e.stub) continue;
        if (e.kind == nvidia::EntryKind::lto || e.kind == nvidia::EntryKind::unknown) continue;
        if (e.relocatable) {
            if (sass_runs_on(e, cc_major, cc_minor) || ptx_targets(e, cc_major, cc_minor))
                ++relocatable_fit;
            continue;
        }
        loadable.push_back(e.arch_name());
        if (e.is_sass()) {
            if (!sass_runs_on(e, cc_major, cc_minor)) {
                k.rejected.push_back(e.arch_name() + " SASS does not run on compute capability " +
                                     cc);
                continue;
            }
            auto key = [&](std::size_t j) {
                return std::tuple(entries[j].arch, variant_rank(entries[j].variant));
            };
            if (!best_sass || key(i) > key(*best_sass)) best_sass = i;
        } else {
            if (!ptx_targets(e, cc_major, cc_minor)) {
                k.rejected.push_back(e.arch_name() +
                                     " PTX cannot be compiled for compute "
                                     "capability " +
                                     cc);
                continue;
            }
            if (auto why = ptx_isa_problem(e, driver_cuda_version); !why.empty()) {
                k.rejected.push_back(why);
                k.ptx_too_new = true;
                continue;
            }
            auto key = [&](std::size_t j) {
                return std::tuple(entries[j].arch, variant_rank(entries[j].variant),
                                  entries[j].code_major, entries[j].code_minor);
            };
            if (!best_ptx || key(i) > key(*best_ptx)) best_ptx = i;
        }
    }

    if (best_sass) {
        auto& e = entries[*best_sass];
        k.ok = true;
        k.verdict = KernelVerdict::sass;
        k.entry = best_sass;
        k.arch = e.arch_name();
        k.reason = e.arch_name() + " SASS runs on compute capability " + cc;
        return k;
    }
    if (best_ptx) {
        auto& e = entries[*best_ptx];
        k.ok = true;
        k.verdict = KernelVerdict::ptx_jit;
        k.entry = best_ptx;
        k.arch = e.arch_name();
        k.reason = "no SASS for compute capability " + cc + "; the driver JIT-compiles " +
                   e.arch_name() + " PTX (ISA " + isa_string(e) + ")";
        if (driver_cuda_version <= 0) k.reason += " if it supports that PTX ISA";
        return k;
    }

    k.verdict = KernelVerdict::none;
    if (loadable.empty()) {
        k.reason = "no loadable device code";
        if (relocatable_fit)
            k.reason += ": only relocatable (-rdc) entries fit compute capability " + cc +
                        ", and the runtime never loads those";
        return k;
    }
    std::string list = text::join(loadable, ", ");
    if (k.ptx_too_new) {
        k.reason = "no SASS for compute capability " + cc +
                   " and its PTX is too new for the "
                   "driver: " +
                   *std::find_if(k.rejected.begin(), k.rejected.end(),
                                 [](auto& r) { return r.find("ISA") != std::string::npos; });
    } else {
        k.reason = "no kernel image for compute capability " + cc + " (has " + list +
                   "): cudaErrorNoKernelImageForDevice (209)";
    }
    return k;
}

} // namespace gantry::gpu_vendors::nvidia
