// with_stopped_root (engine/stopped_root.hpp).
#include "engine/stopped_root.hpp"

#include "oci/image.hpp"
#include "rootfs/rootfs.hpp"
#include "store/owned_tree.hpp"
#include "store/store.hpp"
#include "userns/idmap.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/lock.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace gantry::engine {

namespace {

// An error crossing from the child: "code\nmessage\nhint".
void stopped_report(int fd, const Error& e) {
    std::string text =
        std::to_string(static_cast<int>(e.code())) + "\n" + e.message() + "\n" + e.hint();
    [[maybe_unused]] auto n = ::write(fd, text.data(), text.size());
}

void stopped_mount(const records::ContainerState& s, const rootfs::LayerStack& st,
                   const std::string& target) {
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
        throw_errno("cannot make a private mount namespace for the copy");
    if (::chdir(st.layers_dir.c_str()) != 0) throw_errno("cannot enter " + st.layers_dir);
    std::string lower;
    for (auto& d : st.lower) lower += (lower.empty() ? "" : ":") + d;
    std::string data = "lowerdir=" + lower + ",upperdir=" + s.container_dir + "/upper" +
                       ",workdir=" + s.container_dir + "/work,userxattr";
    if (::mount("overlay", target.c_str(), "overlay", 0, data.c_str()) != 0)
        throw_errno("cannot mount the root of container " + s.name);
    [[maybe_unused]] int back = ::chdir("/");
}

// DEST inside the root ROOTFD opened as a directory, each missing component made, in-root: the
// image controls every link on the way (docker makes a volume's mount point the same way)
Fd volume_target(int rootfd, const std::string& dest) {
    std::string path;
    std::size_t at = 0;
    while (at <= dest.size()) {
        auto slash = dest.find('/', at);
        std::string comp =
            dest.substr(at, slash == std::string::npos ? std::string::npos : slash - at);
        at = slash == std::string::npos ? dest.size() + 1 : slash + 1;
        if (comp.empty() || comp == ".") continue;
        if (comp == "..")
            throw Error(Errc::invalid, "the mount point " + dest + " names a parent (..)");
        std::string next = path + "/" + comp;
        Fd d(fs::openat_in_root(rootfd, next, O_PATH | O_DIRECTORY));
        if (!d) {
            if (errno != ENOENT)
                throw_errno("cannot open the mount point " + dest + " in the container's root");
            Fd parent(fs::openat_in_root(rootfd, path.empty() ? "/" : path, O_PATH | O_DIRECTORY));
            if (!parent || (::mkdirat(parent.get(), comp.c_str(), 0755) != 0 && errno != EEXIST))
                throw_errno("cannot make the mount point " + dest + " in the container's root");
        }
        path = next;
    }
    Fd out(fs::openat_in_root(rootfd, path.empty() ? "/" : path, O_PATH | O_DIRECTORY));
    if (!out) throw_errno("cannot open the mount point " + dest + " in the container's root");
    return out;
}

// The container's volumes and bind-mounted directories at their places in the root mounted at
// TARGET, as its run mounts them: a copy into (or out of) /vol1 reaches the volume, as docker's
// cp of a stopped container does. tmpfs mounts and bound files are left out (a tmpfs holds
// nothing while the container is stopped).
void stopped_volumes(const records::ContainerState& s, const std::string& target) {
    Fd root(::open(target.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) throw_errno("cannot open the root of container " + s.name);
    for (const auto* m : records::user_mounts(s)) {
        if (m->type != "bind" && m->type != "none") continue;
        struct stat st {};
        if (::stat(m->source.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        Fd at = volume_target(root.get(), m->destination);
        std::string path = "/proc/self/fd/" + std::to_string(at.get());
        if (::mount(m->source.c_str(), path.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
            throw_errno("cannot mount " + m->source + " at " + m->destination + " for the copy");
        // a read-only bind stays read-only for the copy: cp into it fails as it would inside
        // the running container, and never writes the host's directory
        bool ro = false;
        for (const auto& o : m->options) ro = ro || o == "ro";
        if (!ro) continue;
        Fd mounted = volume_target(root.get(), m->destination); // the new mount's root now
        std::string top = "/proc/self/fd/" + std::to_string(mounted.get());
        if (::mount(nullptr, top.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0)
            throw_errno("cannot make " + m->destination + " read-only for the copy");
    }
}

} // namespace

void with_stopped_root(const records::ContainerState& s, const std::function<void(int)>& work) {
    namespace stdfs = std::filesystem;
    if (s.container_dir.empty() || !stdfs::is_directory(stdfs::path(s.container_dir) / "upper"))
        throw Error(Errc::conflict,
                    "container " + s.name +
                        " is not running and kept no writable layer on disk (it was in memory, "
                        "gone with its run): gantry cp has no files of it to reach",
                    "start it (`gantry start " + s.name +
                        "`), then copy; a container made by "
                        "`gantry create` or run with --writable-layer disk keeps its layer");
    records::StateDir states;
    auto owner = states.take(s); // no start meanwhile
    store::Store store(s.store_root);
    auto manifest = oci::Manifest::parse(store.read_blob(oci::Digest::parse(s.manifest)));
    auto config = oci::ImageConfig::parse(store.read_blob(manifest.config.digest));
    auto st = rootfs::stack(store, config.diff_ids);
    // the work directory a volatile mount left is refused by the kernel: emptied (no run now)
    auto work_dir = stdfs::path(s.container_dir) / "work";
    store::remove_owned_tree(work_dir);
    fs::make_dirs(work_dir, 0700);
    const bool userns = !s.spec.uid_mappings.empty();
    int go[2], err[2], ready[2];
    if (::pipe2(go, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 ||
        ::pipe2(ready, O_CLOEXEC) != 0)
        throw_errno("pipe failed");
    Fd go_r(go[0]), go_w(go[1]), err_r(err[0]), err_w(err[1]), ready_r(ready[0]), ready_w(ready[1]);
    pid_t child = ::fork();
    if (child < 0) throw_errno("fork failed");
    if (child == 0) {
        go_w.reset();
        err_r.reset();
        ready_r.reset();
        try {
            if (::unshare(CLONE_NEWNS | (userns ? CLONE_NEWUSER : 0)) != 0)
                throw_errno("cannot make the namespaces for the copy");
            ready_w.reset(); // EOF: unshared
            char c = 0;
            if (::read(go_r.get(), &c, 1) != 1) ::_exit(1); // the parent failed to map us
            if (userns && (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0))
                throw_errno("cannot become the container's root for the copy");
            auto target = s.store_root + "/mnt";
            stopped_mount(s, st, target);
            stopped_volumes(s, target);
            Fd root(::open(target.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
            if (!root) throw_errno("cannot open the root of container " + s.name);
            work(root.get());
            ::_exit(0);
        } catch (const Error& e) {
            stopped_report(err_w.get(), e);
        } catch (const std::exception& e) {
            stopped_report(err_w.get(), Error(Errc::internal, e.what()));
        }
        ::_exit(1);
    }
    go_r.reset();
    err_w.reset();
    ready_w.reset();
    auto reap = [child] {
        int status = 0;
        while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
        }
        return status;
    };
    char c;
    while (::read(ready_r.get(), &c, 1) < 0 && errno == EINTR) {
    }
    try {
        if (userns) userns::write_id_maps(child, s.spec.uid_mappings, s.spec.gid_mappings);
    } catch (...) {
        go_w.reset();
        reap();
        throw;
    }
    [[maybe_unused]] auto n = ::write(go_w.get(), "g", 1);
    go_w.reset();
    std::string report = fs::read_stream(err_r.get(), 1 << 16, "the copy's error");
    int status = reap();
    if (!report.empty()) {
        auto nl1 = report.find('\n');
        auto nl2 = report.find('\n', nl1 + 1);
        int code = std::atoi(report.substr(0, nl1).c_str());
        throw Error(static_cast<Errc>(code), report.substr(nl1 + 1, nl2 - nl1 - 1),
                    nl2 == std::string::npos ? "" : report.substr(nl2 + 1));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw Error(Errc::internal, "the copy from container " + s.name + " failed");
}

} // namespace gantry::engine
