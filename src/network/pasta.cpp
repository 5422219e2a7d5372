#include "network/pasta.hpp"

#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace gantry::network {

namespace {

constexpr int kReadyTimeoutMs = 30000;

std::string forward_spec(const PortMapping& m) {
    return (m.host_ip.empty() ? "" : m.host_ip + "/") + std::to_string(m.host_port) + ":" +
           std::to_string(m.container_port);
}

// What pasta wrote on its stderr (a memfd), its syslog complaints dropped, on one line.
std::string messages_of(int memfd) {
    std::string all, out;
    char buf[4096];
    ssize_t n;
    while ((n = ::pread(memfd, buf, sizeof buf, static_cast<off_t>(all.size()))) > 0 &&
           all.size() < 16384)
        all.append(buf, static_cast<std::size_t>(n));
    for (auto line : text::lines(all)) {
        auto t = text::trim(line);
        if (t.empty() || text::contains(t, "to syslog")) continue;
        out += (out.empty() ? "" : "; ") + std::string(t);
    }
    return out;
}

} // namespace

std::string pasta_program() {
    std::string p = fs::find_program("pasta");
    if (p.empty())
        throw Error(Errc::unsupported,
                    "--network bridge needs pasta, the user-mode network stack, which is not "
                    "installed",
                    "install it (Debian and Ubuntu: apt-get install passt), or use --network "
                    "host");
    return p;
}

std::vector<std::string> pasta_arguments(pid_t pid, const StackOptions& o,
                                         const std::string& ready_fifo) {
    std::vector<std::string> a{"--config-net", "--foreground", "--quiet",  "--pid",
                               ready_fifo,     "--ns-ifname",  o.interface};
    // as root pasta would become nobody, who cannot join the user namespace root owns
    if (::geteuid() == 0) a.insert(a.end(), {"--runas", "0:0"});
    bool tcp = false, udp = false;
    for (auto& m : o.ports) {
        a.insert(a.end(), {m.protocol == "udp" ? "-u" : "-t", forward_spec(m)});
        (m.protocol == "udp" ? udp : tcp) = true;
    }
    // pasta's defaults forward every port bound on either side, and UDP beside each TCP port:
    // docker's bridge forwards what -p says and nothing from the container to the host's
    // loopback
    if (!tcp) a.insert(a.end(), {"-t", "none"});
    if (!udp) a.insert(a.end(), {"-u", "none"});
    a.insert(a.end(), {"-T", "none", "-U", "none"});
    if (!o.dns_forward.empty()) a.insert(a.end(), {"--dns-forward", o.dns_forward});
    a.push_back(std::to_string(pid));
    return a;
}

Pasta::Pasta(pid_t pid, const StackOptions& o) {
    const std::string program = pasta_program();
    // pasta opens the tap device as the user: a runtime's /dev may keep it root's alone
    if (::geteuid() != 0 && ::access("/dev/net/tun", R_OK | W_OK) != 0)
        throw Error(Errc::unsupported,
                    "--network bridge needs /dev/net/tun, which this user cannot open",
                    "as root: chmod 0666 /dev/net/tun (the mode systemd's udev rules give it), "
                    "or use --network host");
    const std::string fifo = o.work_dir + "/pasta.ready";
    ::unlink(fifo.c_str());
    if (::mkfifo(fifo.c_str(), 0600) != 0) throw_errno("cannot make " + fifo);
    struct Unlink {
        std::string path;
        ~Unlink() { ::unlink(path.c_str()); }
    } unlink_fifo{fifo};
    // opened before pasta starts: a read end without a writer does not block, nor report a hang
    // up until a writer came and went
    Fd ready(::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (!ready) throw_errno("cannot open " + fifo);
    Fd messages(::memfd_create("pasta-messages", MFD_CLOEXEC));
    if (!messages) throw_errno("cannot make a memfd for pasta's messages");
    std::vector<std::string> args{program};
    for (auto& s : pasta_arguments(pid, o, fifo)) args.push_back(s);
    std::vector<char*> argv;
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t child = ::fork();
    if (child < 0) throw_errno("cannot start pasta");
    if (child == 0) { // async-signal-safe calls only: the parent may have threads
        ::setsid();
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        int null = ::open("/dev/null", O_RDWR);
        ::dup2(null, 0);
        ::dup2(null, 1);
        ::dup2(messages.get(), 2);
        ::syscall(SYS_close_range, 3U, ~0U, 0U);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    pid_ = child;
    Fd exited(static_cast<int>(::syscall(SYS_pidfd_open, child, 0)));
    std::string written;
    bool ok = false;
    for (;;) {
        pollfd fds[2] = {{ready.get(), POLLIN, 0}, {exited.get(), POLLIN, 0}};
        const int n = ::poll(fds, exited ? 2 : 1, kReadyTimeoutMs);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break; // timed out
        if (fds[0].revents & (POLLIN | POLLHUP)) {
            char buf[32];
            const ssize_t r = ::read(ready.get(), buf, sizeof buf);
            if (r > 0) {
                written.append(buf, static_cast<std::size_t>(r));
                ok = true; // its pid: configured and bound
                break;
            }
            if (r == 0 && (fds[0].revents & POLLHUP)) break; // closed without a word
        }
        if (fds[1].revents & POLLIN) break; // exited before it was ready
    }
    if (ok) return;
    const std::string said = messages_of(messages.get());
    stop();
    throw Error(Errc::run_failed,
                "pasta could not connect the container's network" +
                    (said.empty() ? std::string(" (it said nothing)") : ": " + said),
                "a published host port may be in use (ss -ltnup shows who holds it), or the "
                "host has no default route; --network host uses the host's network as it is");
}

Pasta::~Pasta() {
    stop();
}

void Pasta::stop() noexcept {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
}

} // namespace gantry::network
