// engine/platform_check: whether this host runs an image's programs, asked before launch and by
// `doctor IMAGE`. An image of the host's platform runs natively; one of another platform runs
// through the binfmt_misc handler registered for it (qemu-user-static: binfmt/handlers.hpp),
// as docker and podman run them, and is refused with the reason and its remedy where there is
// none. doctor also reads the ELF header of every file of the image, since a platform label can
// lie: an image labelled linux/amd64 that holds aarch64 programs fails at its first exec.
#pragma once

#include "binfmt/handlers.hpp"
#include "findings/finding.hpp"
#include "oci/image.hpp"
#include "store/images.hpp"

#include <string>
#include <vector>

namespace gantry::engine {

// run's check of IMAGE (as the user named it), of platform PLATFORM, against REQUESTED
// (--platform; empty: none): Error(run_failed) when the image is not of the requested platform
// or this host cannot run it; a warning when it runs under an emulator nobody asked for.
// IN_CONTAINER: whether the container's root has a file at a path (binfmt/handlers.hpp: a
// handler without F runs through the image's own copy of its emulator).
void check_platform(const std::string& image, const oci::Platform& platform,
                    const std::string& requested, const binfmt::InContainer& in_container = {});

// doctor's findings: PLATFORM-EMULATION (warn: a foreign platform run by a binfmt_misc handler;
// fail: one that nothing here runs) and IMAGE-ELF-PLATFORM (fail when ELF files of the image
// are built for another architecture than its platform, naming them; pass when all match).
std::vector<findings::Finding> platform_findings(const store::Store& store,
                                                 const store::Image& image);

} // namespace gantry::engine
