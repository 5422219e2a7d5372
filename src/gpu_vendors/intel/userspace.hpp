// The host's Intel GPU compute user space, found under the driver root as the loader would find
// it (the root's /etc/ld.so.cache, then the usual library directories): the Level Zero loader
// (libze_loader.so.1), Intel's Level Zero driver (libze_intel_gpu.so.1, and the legacy1 build's
// libze_intel_gpu_legacy1.so.1 for Gen8-Gen11 GPUs), the OpenCL drivers the ICD files
// /etc/OpenCL/vendors/intel.icd and intel_legacy1.icd name (libigdrcl.so,
// libigdrcl_legacy1.so), the graphics compiler they load by name (libigc.so.*, libigdfcl.so.*),
// and then what those libraries need (their DT_NEEDED entries, resolved as the dynamic linker
// would: the root's ld.so.cache, then the default directories) under the rule of
// driver_deps.hpp: the driver's own dependencies (libigdgmm.so.12, Debian 12's LLVM 14) are
// added, the C/C++ runtime never, anything else is left to the image and listed. Reference:
// docs/reference/intel-gpu.md §5. Paths are resolved inside the root
// (gpu_vendors/in_root.hpp): a link cannot lead out of it.
#pragma once

#include "gpu_vendors/intel/driver_deps.hpp"

#include <optional>
#include <string>
#include <vector>

namespace gantry::gpu_vendors::intel {

struct Library {
    std::string name; // what was looked for, as found: "libze_intel_gpu.so.1"
    std::string path; // in-root path as named (the SONAME link), "/usr/lib/.../libze_loader.so.1"
    std::string real_path; // in-root path of the file it resolves to
    std::string host_path; // that file on the host (under the driver root)
    std::string needed_by; // empty for what gantry looks for; else the library that needs it
};

struct IcdFile {
    std::string path; // "/etc/OpenCL/vendors/intel.icd" or ".../intel_legacy1.icd"
    std::string host_path;
    std::string library; // the line it holds ("libigdrcl.so" or an absolute path)
};

struct UserSpace {
    std::string driver_root;
    std::vector<Library> libraries;   // kIntelWanted's, the ICD files' libraries, then dependencies
    std::vector<IcdFile> icds;        // intel.icd, intel_legacy1.icd: those present
    std::vector<std::string> missing; // names not found: "libze_intel_gpu.so.1", ...
    // general-purpose libraries the driver needs, left to the image: "libedit.so.2 (needed by
    // libLLVM-14.so.1)"; and their bare names
    std::vector<std::string> left_to_image, left_to_image_names;
    std::optional<DriverVersion> driver_version; // driver_deps.hpp; nullopt when not known
    std::vector<std::string> notes;
    bool has(const std::string& name) const;
};

// Never throws for a missing or damaged cache (a note says so).
UserSpace find_user_space(const std::string& driver_root);

// The directories holding the libraries (for the container's linker cache), each once.
std::vector<std::string> library_dirs(const UserSpace& u);

} // namespace gantry::gpu_vendors::intel
