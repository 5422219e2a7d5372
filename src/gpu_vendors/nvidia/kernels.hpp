// gpu_vendors/nvidia/kernels: can a GPU run the device code of a fat binary? The driver's rules
// (reference cuda.md §2.3): SASS sm_XY runs on compute capability X.Z with Z >= Y (same major
// only), sm_XYa only on X.Y exactly, sm_XYf on the family X.Z, Z >= Y (100f: 10.0 and 10.3;
// 120f: 12.0 and 12.1); PTX compute_XY is JIT-compiled for any compute capability >= X.Y (a:
// exactly X.Y, f: its family) when the driver understands the PTX ISA. Entries of nvlink stub
// containers, relocatable (-rdc, __nv_relfatbin) entries, LTO IR and unknown kinds are never
// loaded.
#pragma once

#include "gpu_vendors/nvidia/fatbin.hpp"

#include <optional>
#include <string>
#include <vector>

namespace gantry::gpu_vendors::nvidia {

enum class KernelVerdict {
    sass,    // a cubin runs as is
    ptx_jit, // no usable cubin; the driver JIT-compiles PTX
    none,    // cudaErrorNoKernelImageForDevice (209) or, for too new PTX, 222
};
const char* to_string(KernelVerdict v);

struct KernelCheck {
    bool ok = false;
    KernelVerdict verdict = KernelVerdict::none;
    std::optional<std::size_t> entry;  // index of the chosen entry in the vector given
    std::string arch;                  // its arch name, "sm_80"
    std::string reason;                // one sentence naming the arches and versions
    std::vector<std::string> rejected; // why each loadable entry does not fit, one line each
    bool ptx_too_new = false;          // some PTX targets the GPU but the driver cannot JIT its ISA
};

// True when SASS for `e` (sm_XY[a|f]) executes on compute capability cc_major.cc_minor.
bool sass_runs_on(const nvidia::FatbinEntry& e, int cc_major, int cc_minor);
// True when PTX `e` (compute_XY[a|f]) may be JIT-compiled for cc_major.cc_minor (ISA not checked).
bool ptx_targets(const nvidia::FatbinEntry& e, int cc_major, int cc_minor);

// Picks what the driver would load for a GPU of compute capability cc_major.cc_minor on a driver
// serving CUDA `driver_cuda_version` (encoded, 13000; 0 = unknown: PTX ISA is not checked).
// Prefers SASS (the highest compatible arch, a/f before plain), then PTX (highest arch, then
// ISA). An empty list is not ok: there is nothing to run.
KernelCheck can_run(const std::vector<nvidia::FatbinEntry>& entries, int cc_major, int cc_minor,
                    int driver_cuda_version);

} // namespace gantry::gpu_vendors::nvidia
