#include "runtime/hooks.hpp"

#include "runtime/child_failure.hpp"
#include "runtime/in_root.hpp"
#include "runtime/process.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/host_ldconfig.hpp"
#include "util/json.hpp"

#include <cerrno>
#include <fcntl.h>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace gantry::runtime {

using namespace detail;

namespace {
template <class F>
void guarded(const std::string& what, F&& f) {
    try {
        f();
    } catch (const ChildFail& c) {
        throw Error(Errc::run_failed, what + ": " + c.message, c.hint);
    }
}
} // namespace

std::string root_from_state(const std::string& state_json) {
    nlohmann::json st;
    try {
        st = safe_json::parse(state_json, "the container state");
    } catch (const std::exception& e) {
        throw Error(Errc::invalid,
                    std::string("hook: the container state on stdin is not JSON: ") + e.what(),
                    "gantry hooks are run by an OCI runtime, which writes the state to stdin");
    }
    std::string bundle = st.value("bundle", "");
    if (bundle.empty()) throw Error(Errc::invalid, "hook: the container state has no \"bundle\"");
    auto cfg = safe_json::parse_or_discarded(fs::read_file(bundle + "/config.json"));
    if (cfg.is_discarded() || !cfg.contains("root") || !cfg["root"].contains("path"))
        throw Error(Errc::invalid, "hook: " + bundle + "/config.json has no root.path");
    std::string root = cfg["root"]["path"].get<std::string>();
    if (root.empty() || root[0] != '/') root = bundle + "/" + root;
    return root;
}

void hook_create_symlinks(const std::string& root,
                          const std::vector<std::pair<std::string, std::string>>& links) {
    Fd rootfd = fs::open_dir(root);
    guarded("create-symlinks", [&] {
        for (auto& [target, link] : links) make_symlink_in_root(rootfd.get(), link, target);
    });
}

void hook_update_ldcache(const std::string& root, const std::vector<std::string>& folders,
                         const std::string& host_ldconfig) {
    // an ELF that runs where the image has no shell (Ubuntu's /sbin/ldconfig is a script)
    std::string binary = host_ldconfig.empty() ? gantry::host_ldconfig::find()
                                               : gantry::host_ldconfig::resolve(host_ldconfig);
    if (binary.empty())
        throw Error(Errc::not_found, "hook update-ldcache: this host has no ldconfig binary",
                    "name one with --ldconfig-path");
    for (auto& f : folders)
        if (f.empty() || f[0] != '/' || f.find('\n') != std::string::npos)
            throw Error(Errc::invalid,
                        "hook update-ldcache: --folder '" + f + "' is not an absolute path",
                        "name the container's library directories from its root, e.g. /usr/lib64");
    Fd ldconfig(::open(binary.c_str(), O_PATH | O_CLOEXEC));
    if (!ldconfig) throw_errno("hook update-ldcache: cannot open " + binary);
    pid_t c = ::fork();
    if (c < 0) throw_errno("fork failed");
    if (c == 0) {
        try {
            if (::unshare(CLONE_NEWNS) != 0) fail_errno("unshare(CLONE_NEWNS) failed");
            if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
                fail_errno("cannot make mounts private");
            if (::mount(root.c_str(), root.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
                fail_errno("cannot bind the container root");
            if (::chdir(root.c_str()) != 0) fail_errno("cannot enter the container root");
            if (::syscall(SYS_pivot_root, ".", ".") != 0) fail_errno("pivot_root failed");
            if (::umount2(".", MNT_DETACH) != 0) fail_errno("cannot detach the old root");
            [[maybe_unused]] const int at_root = ::chdir("/"); // the new root: cannot fail
            Fd r(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
            if (!folders.empty()) {
                std::string content;
                for (auto& f : folders) content += f + "\n";
                write_file_in_root(r.get(), "/etc/ld.so.conf.d/00-gantry-cdi.conf", content);
            }
            restrict_helper({"CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_CHOWN"});
            int null = ::open("/dev/null", O_RDWR);
            if (null >= 0) ::dup2(null, 1);
            // The folders on the command line as well: an image without /etc/ld.so.conf (a
            // program staged alone) or one whose ld.so.conf includes no ld.so.conf.d would
            // leave them out of the cache, and a driver in a directory the image's loader
            // does not search by itself (/usr/lib64 for a multiarch loader) not found.
            std::vector<char*> argv{const_cast<char*>("ldconfig")};
            for (auto& f : folders) argv.push_back(const_cast<char*>(f.c_str()));
            argv.push_back(nullptr);
            char* envp[] = {nullptr};
            ::syscall(SYS_execveat, ldconfig.get(), "", argv.data(), envp, AT_EMPTY_PATH);
            fail_errno("cannot run " + binary);
        } catch (const ChildFail& f) {
            std::string m = "gantry hook update-ldcache: " + f.message + "\n";
            ssize_t n = ::write(2, m.data(), m.size());
            (void)n;
            ::_exit(1);
        }
    }
    int st = 0;
    while (::waitpid(c, &st, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        throw Error(Errc::run_failed, "hook update-ldcache: ldconfig in the container failed");
}

void hook_overlay_file(const std::string& root, const std::string& path,
                       const std::string& content) {
    Fd rootfd = fs::open_dir(root);
    Fd target(fs::openat_in_root(rootfd.get(), path, O_PATH | O_NOFOLLOW));
    struct stat st {};
    if (!target || ::fstat(target.get(), &st) != 0 || !S_ISREG(st.st_mode))
        return; // not in this container (its /proc has no such entry), or not a plain file
    // A named copy: the kernel does not bind-mount an unlinked file (O_TMPFILE: ENOENT, a
    // memfd: EINVAL). Its name goes once the mount holds it.
    std::string copy;
    Fd tmp;
    for (const char* dir : {"/dev/shm", "/tmp"}) {
        copy = std::string(dir) + "/gantry-hook-XXXXXX";
        tmp.reset(::mkostemp(copy.data(), O_CLOEXEC));
        if (tmp) break;
    }
    if (!tmp) throw_errno("hook: cannot create a temporary file for " + path);
    struct Unlink {
        const std::string& name;
        ~Unlink() { ::unlink(name.c_str()); }
    } unlink_copy{copy};
    fs::write_all(tmp.get(), content.data(), content.size(), path + " copy");
    if (::fchmod(tmp.get(), 0444) != 0) throw_errno("hook: cannot chmod the copy of " + path);
    // detached (from our descriptor, not the name in a shared directory), made read-only,
    // then placed: the container never sees it writable
    Fd tree = detail::clone_tree(tmp.get(), "", false);
    if (!tree) throw_errno("hook: cannot clone the copy of " + path);
    if (!detail::set_mount_attr(
            tree.get(),
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, false))
        throw_errno("hook: cannot make the copy of " + path + " read-only");
    if (!detail::move_tree(tree.get(), target.get())) throw_errno("hook: cannot overlay " + path);
}

} // namespace gantry::runtime
