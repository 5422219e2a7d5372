#include "sqsh/kernel_mount.hpp"

#include "util/error.hpp"
#include "util/identity.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/loop.h>
#include <linux/mount.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace gantry::sqsh {

namespace {

bool identity(const std::vector<oci::IdMapping>& maps) {
    for (auto& m : maps)
        if (m.container_id != m.host_id) return false;
    return !maps.empty();
}

std::string err(const char* what) {
    return std::string(what) + ": " + std::strerror(errno);
}

// A free loop device configured read-only and autoclear on FD; -1 with WHY on failure.
Fd loop_device(int file_fd, std::uint64_t offset, std::uint64_t size, std::string& dev,
               std::string& why) {
    Fd ctl(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
    if (!ctl) return why = err("/dev/loop-control"), Fd();
    for (int attempt = 0; attempt < 16; ++attempt) {
        int n = ::ioctl(ctl.get(), LOOP_CTL_GET_FREE);
        if (n < 0) return why = err("LOOP_CTL_GET_FREE"), Fd();
        dev = "/dev/loop" + std::to_string(n);
        Fd loop(::open(dev.c_str(), O_RDONLY | O_CLOEXEC));
        if (!loop) return why = err(dev.c_str()), Fd();
        loop_config cfg{};
        cfg.fd = static_cast<__u32>(file_fd);
        cfg.info.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR;
        cfg.info.lo_offset = offset; // a SIF's partition: the loop device is that window
        cfg.info.lo_sizelimit = size;
        if (::ioctl(loop.get(), LOOP_CONFIGURE, &cfg) == 0) return loop;
        if (errno != EBUSY) return why = err("LOOP_CONFIGURE"), Fd();
        // another process took it between GET_FREE and CONFIGURE: ask again
    }
    why = "no free loop device after 16 attempts";
    return Fd();
}

} // namespace

bool kernel_mount_wanted(const oci::RuntimeSpec& spec) {
    if (!running_as_real_root()) return false;
    if (const char* f = std::getenv("GANTRY_SQSH_FUSE"); f && *f && std::strcmp(f, "0") != 0)
        return false;
    if (!spec.has_namespace("user")) return true;
    return identity(spec.uid_mappings) && identity(spec.gid_mappings);
}

Fd kernel_tree(const Image& image, std::string& why) {
    std::string dev;
    Fd loop = loop_device(image.fd(), image.window_offset(),
                          image.windowed() ? image.window_size() : 0, dev, why);
    if (!loop) return Fd();
    Fd fs(static_cast<int>(::syscall(SYS_fsopen, "squashfs", FSOPEN_CLOEXEC)));
    if (!fs) return why = err("fsopen(squashfs)"), Fd();
    if (::syscall(SYS_fsconfig, fs.get(), FSCONFIG_SET_STRING, "source", dev.c_str(), 0) != 0 ||
        ::syscall(SYS_fsconfig, fs.get(), FSCONFIG_SET_FLAG, "ro", nullptr, 0) != 0 ||
        ::syscall(SYS_fsconfig, fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
        return why = err("fsconfig(squashfs)"), Fd();
    Fd mnt(static_cast<int>(::syscall(SYS_fsmount, fs.get(), FSMOUNT_CLOEXEC,
                                      MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)));
    if (!mnt) return why = err("fsmount(squashfs)"), Fd();
    return mnt; // the loop device stays while the mount does (autoclear)
}

} // namespace gantry::sqsh
