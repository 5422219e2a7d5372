#include "engine/unpack_fallback.hpp"

#include "engine/squashfs.hpp"
#include "oci/digest.hpp"
#include "rootfs/run_view.hpp"
#include "sqsh/load.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/log.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::engine {

std::string fuse_unusable() {
    Fd fd(::open("/dev/fuse", O_RDWR | O_CLOEXEC));
    if (fd) return {};
    int err = errno;
    if (err == ENOENT || err == ENODEV || err == ENXIO)
        return "/dev/fuse is missing (no fuse kernel module: modprobe fuse)";
    struct stat st {};
    if ((err == EACCES || err == EPERM) && ::stat("/dev/fuse", &st) == 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
        return std::string("/dev/fuse is mode ") + mode + ", not usable by you";
    }
    return std::string("cannot open /dev/fuse: ") + std::strerror(err);
}

namespace {

// A repository name component from the file's name: lowercase letters, digits, '.', '_', '-'.
std::string name_of(const std::string& path) {
    std::string stem = std::filesystem::path(path).stem().string(), out;
    for (char c : stem) {
        char l = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
        bool ok = (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9');
        if (ok)
            out += l;
        else if (!out.empty() && out.back() != '-')
            out += '-';
    }
    while (!out.empty() && out.back() == '-') out.pop_back();
    return out.empty() ? "image" : out.substr(0, 64);
}

} // namespace

std::string unpacked_copy(store::Store& store, const std::string& file, const std::string& why) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) throw_errno("cannot read " + file);
    std::error_code ec;
    auto real = std::filesystem::canonical(file, ec);
    std::string identity = (ec ? file : real.string()) + "\n" + std::to_string(st.st_dev) + ":" +
                           std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
                           std::to_string(st.st_mtim.tv_sec) + "." +
                           std::to_string(st.st_mtim.tv_nsec);
    std::string key = oci::Digest::of(identity).hex().substr(0, 16);
    std::string ref = "localhost/sqsh-unpacked/" + name_of(file) + ":" + key;
    try {
        rootfs::find_run_view(store, ref);
        return ref;
    } catch (const Error& e) {
        if (e.code() != Errc::not_found) throw;
    }
    log::note(why + ": unpacking " + file + " into the store once as " + ref +
              " (--no-unpack refuses instead; later runs of this file start from the copy)");
    sqsh::load(store, file, ref, false, squashfs_confinement());
    return ref;
}

} // namespace gantry::engine
