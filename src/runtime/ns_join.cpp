#include "runtime/ns_join.hpp"

#include "runtime/child_failure.hpp"
#include "runtime/clone.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <map>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace gantry::runtime::detail {

namespace {

// linux.namespaces' type → setns's (mount and time paths are refused: oci/spec_fields.cpp)
const std::map<std::string, int>& join_types() {
    static const std::map<std::string, int> t = {
        {"user", CLONE_NEWUSER}, {"pid", CLONE_NEWPID}, {"network", CLONE_NEWNET},
        {"ipc", CLONE_NEWIPC},   {"uts", CLONE_NEWUTS}, {"cgroup", CLONE_NEWCGROUP}};
    return t;
}

// One round of join_in_order: the user namespace (USERS) or the others; an EPERM is left for
// a later round unless this is the LAST.
void join_round(std::vector<NsToJoin>& ns, bool users, bool last) {
    for (auto& n : ns) {
        if (!n.fd || (n.type == CLONE_NEWUSER) != users) continue;
        if (::setns(n.fd.get(), n.type) != 0) {
            if (errno == EPERM && !last) continue;
            if (n.type == CLONE_NEWUSER && errno == EPERM)
                fail_errno("cannot join " + n.what,
                           "joining a user namespace needs CAP_SYS_ADMIN in it: made by this "
                           "user (or root), as a pod's sandbox container made it");
            if (errno == EPERM)
                fail_errno("cannot join " + n.what,
                           "joining it needs CAP_SYS_ADMIN in the user namespace that owns it: "
                           "as root, any; rootless, join that user namespace too "
                           "(linux.namespaces {\"type\": \"user\", \"path\": "
                           "\"/proc/PID/ns/user\"}, as rootless pods do)");
            fail_errno("cannot join " + n.what, "the path must name a namespace file of that "
                                                "type, e.g. /proc/PID/ns/... of a running "
                                                "process");
        }
        n.fd.reset();
        // root in the joined user namespace, as runc's nsexec (and as after unshare); one that
        // maps no id 0 (gantry apptainer's --userns keep-id: the caller's own id alone) keeps
        // the caller's ids, with the capabilities setns gave in it
        if (n.type == CLONE_NEWUSER && (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0) &&
            errno != EINVAL)
            fail_errno("cannot become root in " + n.what,
                       "the user namespace must map id 0 (the pod's sandbox maps its root)");
    }
}

bool same_maps(const std::vector<oci::IdMapping>& a, const std::vector<oci::IdMapping>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i].container_id != b[i].container_id || a[i].host_id != b[i].host_id ||
            a[i].size != b[i].size)
            return false;
    return true;
}

std::string maps_text(const std::vector<oci::IdMapping>& maps) {
    std::string t;
    for (auto& m : maps)
        t += (t.empty() ? "" : ", ") + std::to_string(m.container_id) + ":" +
             std::to_string(m.host_id) + ":" + std::to_string(m.size);
    return t.empty() ? "none" : t;
}

} // namespace

void join_in_order(std::vector<NsToJoin>& ns) {
    join_round(ns, false, false);
    join_round(ns, true, true);
    join_round(ns, false, true);
}

bool joins_user_namespace(const oci::RuntimeSpec& spec) {
    return spec.namespace_paths.count("user") > 0;
}

bool joins_through_helper(const oci::RuntimeSpec& spec) {
    if (joins_user_namespace(spec)) return true;
    const bool new_user =
        std::find(spec.namespaces.begin(), spec.namespaces.end(), "user") != spec.namespaces.end();
    return new_user && !spec.namespace_paths.empty();
}

std::vector<oci::IdMapping> own_id_map(const char* file) {
    std::vector<oci::IdMapping> out;
    std::string path = std::string("/proc/self/") + file;
    FILE* f = std::fopen(path.c_str(), "re");
    if (!f) fail_errno("cannot read " + path);
    unsigned long in = 0, outside = 0, count = 0;
    while (std::fscanf(f, "%lu %lu %lu", &in, &outside, &count) == 3)
        out.push_back({static_cast<std::uint32_t>(in), static_cast<std::uint32_t>(outside),
                       static_cast<std::uint32_t>(count)});
    std::fclose(f);
    return out;
}

void check_mappings_of_joined_namespace(const oci::RuntimeSpec& s) {
    if (s.uid_mappings.empty() && s.gid_mappings.empty()) return;
    auto uids = own_id_map("uid_map"), gids = own_id_map("gid_map");
    if (same_maps(uids, s.uid_mappings) && same_maps(gids, s.gid_mappings)) return;
    fail(Errc::invalid,
         "linux.uidMappings and gidMappings (" + maps_text(s.uid_mappings) + "; " +
             maps_text(s.gid_mappings) + ") differ from those of the user namespace " +
             s.namespace_paths.at("user") + " (" + maps_text(uids) + "; " + maps_text(gids) +
             ") that linux.namespaces joins (runc refuses them too)",
         "a container that joins a user namespace takes its mappings: remove linux.uidMappings "
         "and linux.gidMappings, or give that namespace's");
}

long fork_joining_namespaces(const oci::RuntimeSpec& s, int err_fd) {
    // opened here, in gantry: an unopenable path fails before anything is forked
    std::vector<NsToJoin> ns;
    for (const auto& [type, path] : s.namespace_paths) {
        auto t = join_types().find(type);
        if (t == join_types().end()) continue; // refused before (oci/spec_fields.cpp)
        Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd)
            throw_errno("cannot open the " + type + " namespace " + path,
                        "linux.namespaces' path names a namespace file, e.g. /proc/PID/ns/" +
                            std::string(type == "network" ? "net" : type) +
                            " of a running process");
        ns.push_back({std::move(fd), t->second, "the " + type + " namespace " + path});
    }
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw_errno("pipe failed");
    Fd pid_r(p[0]), pid_w(p[1]);
    const pid_t helper = ::fork();
    if (helper < 0) throw_errno("fork failed");
    if (helper == 0) {
        pid_r.reset();
        long pid = -1;
        try {
            join_in_order(ns); // the PID namespace's for the children: the container process
            if (joins_user_namespace(s)) check_mappings_of_joined_namespace(s);
            pid = ::syscall(SYS_clone, clone_flags(s.namespaces) | CLONE_PARENT | SIGCHLD, nullptr,
                            nullptr, nullptr, nullptr);
            if (pid < 0) {
                Error e = namespaces_error(errno);
                fail(e.code(), e.message(), e.hint());
            }
        } catch (const ChildFail& f) {
            write_failure(err_fd, static_cast<int>(f.code), f.message, f.hint);
            ::_exit(static_cast<int>(f.code));
        } catch (const std::exception& e) { // nothing leaves the helper: it is a copy of gantry
            write_failure(err_fd, static_cast<int>(Errc::run_failed), e.what(), "");
            ::_exit(static_cast<int>(Errc::run_failed));
        }
        if (pid == 0) return 0; // the container process, gantry's child (CLONE_PARENT)
        const ssize_t n = ::write(pid_w.get(), &pid, sizeof pid);
        ::_exit(n == static_cast<ssize_t>(sizeof pid) ? 0 : 125);
    }
    pid_w.reset();
    long pid = -1;
    ssize_t got;
    while ((got = ::read(pid_r.get(), &pid, sizeof pid)) < 0 && errno == EINTR) {
    }
    int st = 0;
    while (::waitpid(helper, &st, 0) < 0 && errno == EINTR) {
    }
    return got == static_cast<ssize_t>(sizeof pid) ? pid : -1;
}

} // namespace gantry::runtime::detail
