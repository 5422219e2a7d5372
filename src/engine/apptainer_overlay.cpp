#include "engine/apptainer_overlay.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace gantry::engine {

namespace {

namespace stdfs = fs::stdfs;

// DIR/NAME made (0755) unless it is a directory already
std::string overlay_subdir(const std::string& dir, const char* name) {
    std::string path = dir + "/" + name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return path;
    if (::mkdir(path.c_str(), 0755) != 0)
        throw_errno("cannot make " + path + " for --overlay " + dir,
                    "give an overlay directory you may write, or add :ro to read it only");
    return path;
}

// DESTINATION's directories under SKELETON, and DESTINATION itself as a directory or (FILE) an
// empty file. A destination with a ".." is left to the runtime (which makes its mount point in
// the root).
void make_mount_point(const std::string& skeleton, const std::string& destination, bool file) {
    stdfs::path dest = stdfs::path(destination).lexically_normal().relative_path();
    bool escapes = dest.empty();
    for (const auto& part : dest)
        if (part == "..") escapes = true;
    if (escapes) return;
    std::error_code ec;
    stdfs::path at = stdfs::path(skeleton) / dest;
    stdfs::create_directories(file ? at.parent_path() : at, ec);
    if (ec || !file) return; // a parent that is a file already: the runtime's then
    int fd = ::open(at.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd >= 0) ::close(fd);
}

// The mount points of MOUNTS under SKELETON: a directory, or an empty file for a bind of
// something else
void make_skeleton(const std::vector<oci::Mount>& mounts, const std::string& skeleton) {
    if (::mkdir(skeleton.c_str(), 0755) != 0 && errno != EEXIST)
        throw_errno("cannot make " + skeleton);
    for (const auto& m : mounts) {
        struct stat st {};
        const bool file = (m.type == "bind" || m.type.empty()) &&
                          ::stat(m.source.c_str(), &st) == 0 && !S_ISDIR(st.st_mode);
        make_mount_point(skeleton, m.destination, file);
    }
}

} // namespace

void apply_apptainer_overlays(const RunRequest& request, const oci::RuntimeSpec& spec,
                              bool hostname_file, const std::string& skeleton,
                              runtime::Overlay& overlay) {
    if (request.apptainer_overlays.empty()) return;
    for (const auto& entry : request.apptainer_overlays) {
        if (entry.ends_with(":ro")) {
            std::string dir = entry.substr(0, entry.size() - 3);
            struct stat st {};
            std::string upper = dir + "/upper";
            const bool filled = ::stat(upper.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
            overlay.lower.insert(overlay.lower.begin(), filled ? upper : dir);
            continue;
        }
        overlay.upper = overlay_subdir(entry, "upper");
        overlay.work = overlay_subdir(entry, "work");
        overlay.memory = false;
        overlay.persistent = true;
    }
    make_skeleton(spec.mounts, skeleton);
    if (hostname_file) make_mount_point(skeleton, "/etc/hostname", true);
    overlay.lower.push_back(skeleton);
}

} // namespace gantry::engine
