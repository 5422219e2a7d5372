#include "gpu_vendors/sysfs_root.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace gantry::gpu_vendors {

std::string normalize_root(const std::string& root) {
    if (root.empty()) return "/";
    std::string r = std::filesystem::path(root).lexically_normal().string();
    if (r[0] != '/') {
        std::error_code ec;
        auto abs = std::filesystem::absolute(r, ec);
        if (!ec) r = abs.lexically_normal().string();
    }
    while (r.size() > 1 && r.back() == '/') r.pop_back();
    return r.empty() ? "/" : r;
}

SysRoot::SysRoot(std::string path, const char* hint)
    : path_(std::move(path)), hint_(hint), fd_(fs::open_dir(path_)) {}

std::string SysRoot::host(std::string_view in_root) const {
    return gpu_host::join_root(path_, "/" + std::string(in_root));
}

std::optional<std::string> SysRoot::read(std::string_view in_root) const {
    Fd fd(fs::openat_in_root(fd_.get(), std::string(in_root), O_RDONLY | O_NOCTTY | O_NONBLOCK));
    if (!fd) {
        if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
        throw sys_error(errno, "cannot open " + host(in_root), hint_);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
        throw Error(Errc::invalid, host(in_root) + " is not a regular file", hint_);
    std::string out;
    std::array<char, 4096> buf{};
    for (;;) {
        ssize_t n = ::read(fd.get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw sys_error(errno, "cannot read " + host(in_root), hint_);
        if (n == 0) break;
        out.append(buf.data(), static_cast<std::size_t>(n));
        if (out.size() > max_attribute)
            throw Error(Errc::invalid,
                        host(in_root) + " is larger than " + std::to_string(max_attribute) +
                            " bytes: not a sysfs attribute",
                        hint_);
    }
    return out;
}

std::optional<std::vector<std::string>> SysRoot::list(std::string_view in_root) const {
    int raw = fs::openat_in_root(fd_.get(), std::string(in_root), O_RDONLY | O_DIRECTORY);
    if (raw < 0) {
        if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
        throw sys_error(errno, "cannot open directory " + host(in_root), hint_);
    }
    DIR* dir = ::fdopendir(raw);
    if (!dir) {
        int err = errno;
        ::close(raw);
        throw sys_error(err, "cannot read directory " + host(in_root));
    }
    std::vector<std::string> names;
    while (dirent* e = ::readdir(dir)) {
        std::string_view name = e->d_name;
        if (name == "." || name == "..") continue;
        if (names.size() == max_entries) {
            ::closedir(dir);
            throw Error(Errc::invalid,
                        host(in_root) + " holds more than " + std::to_string(max_entries) +
                            " entries",
                        hint_);
        }
        names.emplace_back(name);
    }
    ::closedir(dir);
    std::sort(names.begin(), names.end());
    return names;
}

std::optional<std::string> SysRoot::link_target(const std::string& dir,
                                                const std::string& name) const {
    Fd dir_fd(fs::openat_in_root(fd_.get(), dir, O_PATH | O_DIRECTORY));
    if (!dir_fd) return std::nullopt;
    std::array<char, 4096> buf{};
    ssize_t n = ::readlinkat(dir_fd.get(), name.c_str(), buf.data(), buf.size());
    if (n <= 0 || static_cast<std::size_t>(n) >= buf.size()) return std::nullopt;
    return std::string(buf.data(), static_cast<std::size_t>(n));
}

bool SysRoot::exists(const std::string& in_root) const {
    Fd fd(fs::openat_in_root(fd_.get(), in_root, O_PATH));
    return static_cast<bool>(fd);
}

gpu_host::DeviceNode SysRoot::node(const std::string& container_path) const {
    gpu_host::DeviceNode n;
    n.path = container_path;
    n.host_path = gpu_host::join_root(path_, container_path);
    Fd fd(fs::openat_in_root(fd_.get(), container_path, O_PATH));
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0) return n;
    n.present = true;
    bool dev = S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode);
    n.type = S_ISCHR(st.st_mode) ? 'c' : S_ISBLK(st.st_mode) ? 'b' : '-';
    n.major = dev ? major(st.st_rdev) : 0;
    n.minor = dev ? minor(st.st_rdev) : 0;
    n.mode = st.st_mode & 07777;
    n.uid = st.st_uid;
    n.gid = st.st_gid;
    return n;
}

} // namespace gantry::gpu_vendors
