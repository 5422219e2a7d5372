#include "runtime/devices.hpp"

#include "runtime/child_failure.hpp"
#include "runtime/mounts.hpp"
#include "util/fd.hpp"
#include "util/identity.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace gantry::runtime::detail {

namespace {

mode_t device_type(const oci::DeviceNode& d) {
    switch (d.type) {
    case 'c':
    case 'u':
        return S_IFCHR;
    case 'b':
        return S_IFBLK;
    case 'p':
        return S_IFIFO;
    default:
        fail(Errc::invalid,
             "linux.devices: " + d.path + " has type \"" + std::string(1, d.type) +
                 "\", not a device type",
             "type is \"c\" (character), \"b\" (block), \"u\" (unbuffered) or \"p\" (FIFO)");
    }
}

// mknod DEST with the spec's mode, numbers and owner; an existing entry is kept, as runc does.
void mknod_device(int rootfd, const oci::DeviceNode& d) {
    auto slash = d.path.rfind('/');
    std::string dir = slash == std::string::npos || slash == 0 ? "/" : d.path.substr(0, slash);
    std::string name = d.path.substr(slash == std::string::npos ? 0 : slash + 1);
    if (name.empty() || name == "." || name == "..")
        fail(Errc::invalid, "linux.devices: \"" + d.path + "\" names no file",
             "path is the node's absolute path in the container, such as /dev/fuse");
    Fd parent = ensure_target(rootfd, dir, true, nullptr, "device directory");
    mode_t type = device_type(d);
    dev_t dev = type == S_IFIFO
                    ? 0
                    : makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor));
    mode_t old = ::umask(0);
    int rc = ::mknodat(parent.get(), name.c_str(), type | (d.file_mode & 07777), dev);
    int err = errno;
    ::umask(old);
    if (rc != 0) {
        if (err == EEXIST) return;
        errno = err;
        fail_errno("cannot create the device " + d.path + " (mknod)");
    }
    if (::fchownat(parent.get(), name.c_str(), d.uid, d.gid, AT_SYMLINK_NOFOLLOW) != 0)
        fail_errno("cannot set the owner of the device " + d.path);
}

void bind_device(int rootfd, const oci::DeviceNode& d, TargetDir& last) {
    const std::string& host = d.host_path.empty() ? d.path : d.host_path;
    struct stat st {};
    if (::stat(host.c_str(), &st) != 0)
        fail(Errc::not_found,
             "linux.devices: " + d.path + " cannot be bound from the host: " + host +
                 " does not exist there",
             "without the host's root (rootless, or in a user namespace) a device cannot be "
             "created, only bound from the host's node of the same path: create it on the host, "
             "or remove it from linux.devices");
    mount_in_root(rootfd, {d.path, "bind", host, {"bind", "nosuid", "noexec"}}, last);
}

} // namespace

bool devices_by_mknod(const oci::RuntimeSpec& spec) {
    return !spec.has_namespace("user") && running_as_real_root();
}

void make_devices(int rootfd, const oci::RuntimeSpec& spec, TargetDir& last) {
    if (spec.devices.empty()) return;
    const bool by_mknod = devices_by_mknod(spec);
    for (auto& d : spec.devices) {
        if (by_mknod && d.host_path.empty())
            mknod_device(rootfd, d);
        else
            bind_device(rootfd, d, last);
    }
}

} // namespace gantry::runtime::detail
