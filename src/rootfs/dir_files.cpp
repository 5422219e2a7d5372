#include "rootfs/dir_files.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::rootfs {

namespace {

constexpr std::size_t kMaxDirFile = 64u << 20; // bytes of one file read

// PATH's parent opened in-root (O_PATH) and its last name ("" for the root itself)
std::pair<Fd, std::string> dir_files_parent(int root, const std::string& path) {
    auto p = fs::stdfs::path("/" + path).lexically_normal();
    std::string name = p.filename().string();
    std::string parent = p.parent_path().string();
    return {Fd(fs::openat_in_root(root, parent, O_PATH | O_DIRECTORY | O_CLOEXEC)), name};
}

} // namespace

DirFiles::DirFiles(const std::string& dir) : dir_(dir) {
    root_ = Fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root_) throw_errno("cannot open the directory " + dir);
}

bool DirFiles::has(const std::string& path) const {
    auto [parent, name] = dir_files_parent(root_.get(), path);
    if (!parent) return false;
    if (name.empty()) return true;
    struct stat st {};
    return ::fstatat(parent.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int DirFiles::open(const std::string& path) const {
    Fd at(fs::openat_in_root(root_.get(), path, O_PATH | O_CLOEXEC));
    struct stat st {};
    if (!at || ::fstat(at.get(), &st) != 0 || !S_ISREG(st.st_mode)) return -1;
    // a regular file, reopened through its O_PATH descriptor: nothing swapped in between
    std::string proc = "/proc/self/fd/" + std::to_string(at.get());
    return ::open(proc.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
}

std::string DirFiles::read(const std::string& path) const {
    Fd fd(open(path));
    if (!fd) return {};
    return fs::read_stream(fd.get(), kMaxDirFile, dir_ + "/" + path);
}

std::vector<std::string> DirFiles::list(const std::string& dir) const {
    Fd at(fs::openat_in_root(root_.get(), dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    std::vector<std::string> names;
    if (!at) return names;
    DIR* d = ::fdopendir(at.get());
    if (!d) return names;
    at.release();
    while (const dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") names.push_back(std::move(n));
    }
    ::closedir(d);
    return names;
}

} // namespace gantry::rootfs
