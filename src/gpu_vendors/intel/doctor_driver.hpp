// The doctor's Intel rules between the host's driver and an image (docs/intel.md): the Level
// Zero loader of an image that meets the host's driver (a host with the driver and without a
// loader of its own: gantry then injects the driver alone), against the minimum driver the
// loader's release notes name; the general-purpose libraries the host's driver needs that
// gantry leaves to the image (driver_deps.hpp) and the image lacks. Also the install hint for a
// host without the user space, in its distribution's package names. Nothing is executed.
#pragma once

#include "findings/finding.hpp"
#include "gpu_vendors/intel/userspace.hpp"
#include "rootfs/image_files.hpp"

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace gantry::gpu_vendors::intel {

// What the image holds that these rules read: the file names in its standard library
// directories (the merged view of its layers).
struct ImageLibraries {
    std::set<std::string> names;
    std::optional<LoaderVersion> loader; // the newest libze_loader.so.1.X.Y found
    std::string loader_path;
};
ImageLibraries image_libraries(const rootfs::ImageFiles& files);

// Whether the rules below have anything to say for USER (so a run lists no image directory
// on a host where they cannot fire).
bool driver_rules_apply(const UserSpace& user);

// INTEL-LOADER-DRIVER (pass / info / warn) and INTEL-DRIVER-DEPS (warn), or nothing.
std::vector<findings::Finding> driver_findings(const UserSpace& user, const ImageLibraries& img);

// The install hint for a host without (part of) the user space: Debian 12's package names when
// the driver root's /etc/os-release says Debian 12, else Debian 12's and Intel's.
std::string install_hint(const std::string& driver_root);

} // namespace gantry::gpu_vendors::intel
