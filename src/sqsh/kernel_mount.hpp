// sqsh/kernel_mount: a squashfs image mounted by the kernel, for runs as real root: a read-only
// loop device (LOOP_CONFIGURE, autoclear) and a detached mount of it (fsopen("squashfs"),
// fsmount), which the container's process attaches on its private MOUNT_POINT/lower with
// move_mount (runtime::Launch::lower_tree). The mount is never in the host's mount table: it
// lives in the container's mount namespace only, and the loop device detaches itself when the
// last reference (that namespace, or the descriptor) goes, kill -9 included. Faster than FUSE: no
// libraries loaded, no server thread, page cache shared by every container of the image.
//
// Only where the kernel shows what FUSE would: no user namespace, or one whose maps are the
// identity (root's default), since the kernel shows the recorded owners unmapped.
#pragma once

#include "oci/runtime_spec.hpp"
#include "sqsh/image.hpp"
#include "util/fd.hpp"

#include <string>

namespace gantry::sqsh {

// Whether a run with SPEC may use the kernel's squashfs: real root, identity id maps, and not
// turned off with GANTRY_SQSH_FUSE=1 (the benchmark compares both).
bool kernel_mount_wanted(const oci::RuntimeSpec& spec);

// The detached mount of IMAGE, or an invalid Fd with WHY set when the kernel cannot (no loop
// devices, no squashfs support, a compressor it lacks): the caller falls back to FUSE.
Fd kernel_tree(const Image& image, std::string& why);

} // namespace gantry::sqsh
