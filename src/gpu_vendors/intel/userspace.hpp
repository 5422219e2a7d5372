// The host's Intel GPU compute user space, found under the driver root as the loader would find
// it (the root's /etc/ld.so.cache, then the usual library directories): the Level Zero loader
// (libze_loader.so.1), Intel's Level Zero driver (libze_intel_gpu.so.1), the OpenCL driver
// (libigdrcl.so, named by the ICD file /etc/OpenCL/vendors/intel.icd) and the graphics compiler
// they load (libigc.so.*, libigdfcl.so.*). Reference: docs/reference/intel-gpu.md §5. Paths are
// resolved inside the root (gpu_vendors/in_root.hpp): a link cannot lead out of it.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace gantry::gpu_vendors::intel {

struct Library {
    std::string name; // what was looked for, as found: "libze_intel_gpu.so.1"
    std::string path; // in-root path as named (the SONAME link), "/usr/lib/.../libze_loader.so.1"
    std::string real_path; // in-root path of the file it resolves to
    std::string host_path; // that file on the host (under the driver root)
};

struct IcdFile {
    std::string path = "/etc/OpenCL/vendors/intel.icd";
    std::string host_path;
    std::string library; // the line it holds ("libigdrcl.so" or an absolute path)
};

struct UserSpace {
    std::string driver_root;
    std::vector<Library> libraries; // in the order of kWanted, then libigdrcl.so
    std::optional<IcdFile> icd;
    std::vector<std::string> missing; // names not found: "libze_intel_gpu.so.1", ...
    std::vector<std::string> notes;
    bool has(const std::string& name) const;
};

// Never throws for a missing or damaged cache (a note says so).
UserSpace find_user_space(const std::string& driver_root);

// The directories holding the libraries (for the container's linker cache), each once.
std::vector<std::string> library_dirs(const UserSpace& u);

} // namespace gantry::gpu_vendors::intel
