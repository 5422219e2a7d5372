#include "userns/userns_child.hpp"

#include "userns/idmap.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/identity.hpp"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <optional>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

namespace gantry::userns {

namespace {

// The child: unshare, wait for the parent to write the maps, become root, run the job. Its
// answer on RESULT_W: "O" and the job's result, or "E <code> <message>".
[[noreturn]] void userns_job_child(const std::function<std::string()>& job, int ready_w, int go_r,
                                   int result_w) {
    std::string out;
    try {
        if (::unshare(CLONE_NEWUSER) != 0) throw_errno("cannot create a user namespace");
        char b = 1;
        if (::write(ready_w, &b, 1) != 1 || ::read(go_r, &b, 1) != 1 || b != 1)
            throw Error(Errc::internal, "the user namespace's id maps were not written");
        if (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0)
            throw_errno("cannot become root in the user namespace");
        out = "O" + job();
    } catch (const Error& e) {
        out = "E " + std::to_string(static_cast<int>(e.code())) + " " + e.message();
    } catch (const std::exception& e) {
        out = "E 1 " + std::string(e.what());
    }
    try {
        fs::write_all(result_w, out.data(), out.size(), "the user namespace job's result");
    } catch (const Error&) {
    }
    ::_exit(0);
}

} // namespace

bool subid_maps(std::vector<oci::IdMapping>& uids, std::vector<oci::IdMapping>& gids) {
    uids.clear();
    gids.clear();
    if (running_as_real_root()) return false;
    unprivileged_maps(::getuid(), ::getgid(), true, uids, gids);
    if (!is_single_id(uids)) return true;
    uids.clear();
    gids.clear();
    return false;
}

std::string run_in_userns(const std::vector<oci::IdMapping>& uids,
                          const std::vector<oci::IdMapping>& gids, const std::string& what,
                          const std::function<std::string()>& job) {
    int ready[2], go[2], result[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) throw_errno("pipe failed");
    Fd ready_r(ready[0]), ready_w(ready[1]);
    if (::pipe2(go, O_CLOEXEC) != 0) throw_errno("pipe failed");
    Fd go_r(go[0]), go_w(go[1]);
    if (::pipe2(result, O_CLOEXEC) != 0) throw_errno("pipe failed");
    Fd res_r(result[0]), res_w(result[1]);
    pid_t pid = ::fork();
    if (pid < 0) throw_errno("fork failed");
    if (pid == 0) userns_job_child(job, ready_w.get(), go_r.get(), res_w.get());
    ready_w.reset();
    go_r.reset();
    res_w.reset();
    std::optional<Error> map_error;
    char b = 0;
    if (::read(ready_r.get(), &b, 1) == 1) {
        try {
            write_id_maps(pid, uids, gids);
            b = 1;
        } catch (const Error& e) {
            map_error = e;
            b = 0;
        }
        (void)!::write(go_w.get(), &b, 1);
    }
    go_w.reset();
    std::string msg = fs::read_stream(res_r.get(), 64 << 20, "the user namespace job's result");
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (map_error) throw *map_error;
    if (msg.starts_with("O")) return msg.substr(1);
    if (msg.starts_with("E ")) {
        auto sp = msg.find(' ', 2);
        int code = std::atoi(msg.c_str() + 2);
        throw Error(code > 0 && code < 200 ? static_cast<Errc>(code) : Errc::internal,
                    msg.substr(sp == std::string::npos ? 2 : sp + 1));
    }
    throw Error(Errc::internal, what +
                                    ": the user namespace's process ended without a result "
                                    "(status " +
                                    std::to_string(status) + ")");
}

} // namespace gantry::userns
